"""The catalog: the one module that talks to SQLite (through sqlite-utils).

Tables: ``files`` (one row per sdist or wheel), ``blobs`` (one row per stored blob) and ``refs``
(which owner — a file, or a named pin such as a rebuild log — holds which blob). A blob with no
``refs`` row is garbage once its grace period is over.

Concurrency: WAL mode, a generous busy timeout, and every write in ``BEGIN IMMEDIATE`` so that two
processes never deadlock upgrading read transactions; "database is locked" is retried here and never
reaches a user.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from ._errors import StoreFormatError

__all__ = ["Catalog", "SCHEMA_VERSION"]

SCHEMA_VERSION = 3
_BUSY_MS = 60_000


def _connect(target: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        target, timeout=_BUSY_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    return conn


class Catalog:
    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self.where = where
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        if where != ":memory:":
            self._retrying(lambda: conn.execute("PRAGMA journal_mode=WAL"))
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    @classmethod
    def open(cls, path: Path) -> Catalog:
        try:
            return cls(_connect(str(path)), str(path))
        except sqlite3.DatabaseError as e:
            raise StoreFormatError(str(path), f"catalog is not a readable SQLite database ({e})") from e

    @classmethod
    def memory(cls) -> Catalog:
        return cls(_connect(":memory:"), ":memory:")

    def close(self) -> None:
        self.db.conn.close()

    # -- transactions -------------------------------------------------------------------------

    @staticmethod
    def _retrying(fn: Any) -> Any:
        delay = 0.01
        for attempt in range(200):
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                if attempt == 199:
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction (BEGIN IMMEDIATE); nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.db
                finally:
                    self._depth -= 1
                return
            conn = self.db.conn
            self._retrying(lambda: conn.execute("BEGIN IMMEDIATE"))
            self._depth = 1
            try:
                yield self.db
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                self._retrying(lambda: conn.execute("COMMIT"))
            finally:
                self._depth = 0

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return self._retrying(lambda: list(self.db.query(sql, params)))  # type: ignore[no-any-return]

    def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._retrying(lambda: self.db.execute(sql, params))  # type: ignore[no-any-return]

    # -- schema -------------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self.write() as db:
            if "meta" not in db.table_names():
                db["meta"].create({"key": str, "value": str}, pk="key")
            row = next(iter(db.query("SELECT value FROM meta WHERE key='schema_version'")), None)
            version = int(row["value"]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreFormatError(
                    self.where, f"catalog schema {version} is newer than this casstore ({SCHEMA_VERSION})"
                )
            if version < 1:
                self._create_v1(db)
            if version < 2:
                self._create_v2(db)
            if version < 3:
                self._migrate_v3(db)
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )

    @staticmethod
    def _create_v1(db: sqlite_utils.Database) -> None:
        db["blobs"].create(
            {"digest": str, "size": int, "stored_size": int, "added": float}, pk="digest", if_not_exists=True
        )
        db["files"].create(
            {
                "filename": str,
                "project": str,
                "version": str,
                "kind": str,
                "tags": str,
                "size": int,
                "stored_size": int,
                "blake3": str,
                "sha256": str,
                "layout": str,  # 'blob': the bytes are the blob named blake3; 'recipe': see manifest
                "manifest": str,
                "origin": str,  # 'uploaded' | 'rebuilt' | 'mirrored'
                "added": float,
            },
            pk="filename",
            not_null={"project", "version", "kind", "size", "blake3", "sha256", "layout", "added"},
            if_not_exists=True,
        )
        db["refs"].create(
            {"owner": str, "blob": str}, pk=("owner", "blob"), if_not_exists=True,
            foreign_keys=[("blob", "blobs", "digest")],
        )
        db["files"].create_index(["project", "version"], if_not_exists=True)
        db["files"].create_index(["blake3"], if_not_exists=True)
        db["refs"].create_index(["blob"], if_not_exists=True)

    @staticmethod
    def _create_v2(db: sqlite_utils.Database) -> None:
        # Rebuild records: the JSON record is a blob (pinned by owner 'record:<id>'); the columns index it.
        db["rebuilds"].create(
            {
                "id": str, "sdist": str, "sdist_blake3": str, "target": str, "recipe_digest": str,
                "grade": str, "wheel_blake3": str, "record": str, "started": str, "seconds": float,
            },
            pk="id", if_not_exists=True,
        )
        db["rebuilds"].create_index(["sdist", "target"], if_not_exists=True)
        db["rebuilds"].create_index(["recipe_digest"], if_not_exists=True)
        # Download counts per file (the index server adds to them; eviction policies read them).
        db["downloads"].create({"filename": str, "count": int, "last": float}, pk="filename", if_not_exists=True)

    @staticmethod
    def _migrate_v3(db: sqlite_utils.Database) -> None:
        # Eviction: a file's bytes may be gone while its row (digests, recipe) stays.
        cols = {c.name for c in db["files"].columns}
        if "state" not in cols:
            db.execute("ALTER TABLE files ADD COLUMN state TEXT NOT NULL DEFAULT 'present'")
        if "recipe_digest" not in cols:
            db.execute("ALTER TABLE files ADD COLUMN recipe_digest TEXT")
        if "unrecoverable" not in cols:
            db.execute("ALTER TABLE files ADD COLUMN unrecoverable TEXT")

    # -- rows ---------------------------------------------------------------------------------

    def add_blob(self, digest: str, size: int, stored_size: int) -> None:
        self.execute(
            "INSERT OR IGNORE INTO blobs(digest, size, stored_size, added) VALUES (?, ?, ?, ?)",
            [digest, size, stored_size, time.time()],
        )

    def add_ref(self, owner: str, blob: str) -> None:
        self.execute("INSERT OR IGNORE INTO refs(owner, blob) VALUES (?, ?)", [owner, blob])

    def drop_refs(self, owner: str) -> int:
        return self.execute("DELETE FROM refs WHERE owner = ?", [owner]).rowcount

    def insert_file(self, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.execute(f"INSERT INTO files({cols}) VALUES ({marks})", list(row.values()))

    def delete_file(self, filename: str) -> None:
        self.execute("DELETE FROM files WHERE filename = ?", [filename])

    def file(self, filename: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM files WHERE filename = ?", [filename])
        return rows[0] if rows else None

    def files_by_digest(self, digest: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM files WHERE blake3 = ? ORDER BY filename", [digest])

    def files(
        self, project: str | None = None, version: str | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        where, params = [], []
        for col, val in (("project", project), ("version", version), ("kind", kind)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        sql = "SELECT * FROM files"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self.query(sql + " ORDER BY project, version, filename", params)

    def blob(self, digest: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM blobs WHERE digest = ?", [digest])
        return rows[0] if rows else None

    def blobs(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM blobs ORDER BY digest")

    def is_referenced(self, digest: str) -> bool:
        return bool(self.query("SELECT 1 FROM refs WHERE blob = ? LIMIT 1", [digest]))

    def referenced_digests(self) -> set[str]:
        return {r["blob"] for r in self.query("SELECT DISTINCT blob FROM refs")}

    def owners_of(self, digest: str) -> list[str]:
        return [r["owner"] for r in self.query("SELECT owner FROM refs WHERE blob = ? ORDER BY owner", [digest])]

    def blobs_of(self, owner: str) -> list[str]:
        return [r["blob"] for r in self.query("SELECT blob FROM refs WHERE owner = ? ORDER BY blob", [owner])]

    def delete_blob_row(self, digest: str) -> None:
        self.execute("DELETE FROM blobs WHERE digest = ?", [digest])

    def add_rebuild(self, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.execute(f"INSERT OR REPLACE INTO rebuilds({cols}) VALUES ({marks})", list(row.values()))

    def rebuilds(self, sdist: str | None = None, target: str | None = None,
                 recipe_digest: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        for col, val in (("sdist", sdist), ("target", target), ("recipe_digest", recipe_digest)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        sql = "SELECT * FROM rebuilds" + (" WHERE " + " AND ".join(where) if where else "")
        return self.query(sql + " ORDER BY started, id", params)

    def add_downloads(self, counts: dict[str, int], when: float) -> None:
        for filename, n in counts.items():
            self.execute(
                "INSERT INTO downloads(filename, count, last) VALUES (?, ?, ?) ON CONFLICT(filename) "
                "DO UPDATE SET count = count + excluded.count, last = excluded.last",
                [filename, n, when],
            )

    def downloads(self) -> dict[str, int]:
        return {r["filename"]: r["count"] for r in self.query("SELECT filename, count FROM downloads")}

    def set_file(self, filename: str, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        self.execute(f"UPDATE files SET {sets} WHERE filename = ?", [*values.values(), filename])

    def exclusive_stored_bytes(self, owner: str) -> int:
        """Stored bytes of the blobs that ``owner`` alone holds (what removing it frees)."""
        rows = self.query(
            "SELECT coalesce(sum(b.stored_size), 0) n FROM refs r JOIN blobs b ON b.digest = r.blob "
            "WHERE r.owner = ? AND NOT EXISTS (SELECT 1 FROM refs r2 WHERE r2.blob = r.blob AND r2.owner <> r.owner)",
            [owner],
        )
        return int(rows[0]["n"])
