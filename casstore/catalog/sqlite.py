"""The embedded default catalog: SQLite through sqlite-utils.

SQLite concurrency: WAL mode, a generous busy timeout, and every write in ``BEGIN IMMEDIATE`` so that
two processes never deadlock upgrading read transactions; "database is locked" is retried here and
never reaches a user.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from ..errors import StoreFormatError
from .base import BaseCatalog

__all__ = ["Catalog"]

_BUSY_MS = 60_000


def _connect(target: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        target, timeout=_BUSY_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    return conn


class Catalog(BaseCatalog):
    """The embedded default: SQLite through sqlite-utils, one file next to the objects."""

    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self.where = where
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        self._watch: sqlite3.Connection | None = None
        self._watch_lock = threading.Lock()
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
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
        self.db.conn.close()

    def change_token(self) -> tuple[int, int]:
        """``PRAGMA data_version`` on a read-only connection of its own (so it never waits for this
        catalog's lock) moves whenever another connection — ours included — commits; an in-memory
        catalog has one connection, whose ``total_changes`` counts its writes."""
        if self.where == ":memory:":
            return (0, self.db.conn.total_changes)
        with self._watch_lock:
            if self._watch is None:
                self._watch = sqlite3.connect(f"file:{self.where}?mode=ro", uri=True, check_same_thread=False)
            return (self._watch.execute("PRAGMA data_version").fetchone()[0], 0)

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

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock, self._damage_is_an_error():
            return self._retrying(lambda: list(self.db.query(sql, params)))  # type: ignore[no-any-return]

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock, self._damage_is_an_error():
            return self._retrying(lambda: self.db.execute(sql, params))  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def _damage_is_an_error(self) -> Iterator[None]:
        """A damaged database file (garbage pages, truncation) is one clear error naming it, not a
        traceback; locks, constraints and SQL mistakes keep their own exceptions."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            if type(e) is not sqlite3.DatabaseError:
                raise
            raise StoreFormatError(self.where, f"the catalog is damaged ({e}); run 'casstore fsck --repair'") from e

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.write():
            self.db.conn.executemany(sql, rows)

    # -- schema -------------------------------------------------------------------------------

    def _table_exists(self, name: str) -> bool:
        with self._lock:
            return name in self.db.table_names()

    def _create_meta(self) -> None:
        self.db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)

    def _upgrade_steps(self) -> dict[int, Callable[[], None]]:
        return {1: self._create_v1, 2: self._create_v2, 3: self._migrate_v3}

    def _create_v1(self) -> None:
        db = self.db
        db.table("blobs").create(
            {"digest": str, "size": int, "stored_size": int, "added": float}, pk="digest", if_not_exists=True
        )
        db.table("files").create(
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
        db.table("refs").create(
            {"owner": str, "blob": str}, pk=("owner", "blob"), if_not_exists=True,
            foreign_keys=[("blob", "blobs", "digest")],
        )
        db.table("files").create_index(["project", "version"], if_not_exists=True)
        db.table("files").create_index(["blake3"], if_not_exists=True)
        db.table("refs").create_index(["blob"], if_not_exists=True)

    def _create_v2(self) -> None:
        db = self.db
        # Rebuild records: the JSON record is a blob (pinned by owner 'record:<id>'); the columns index it.
        db.table("rebuilds").create(
            {
                "id": str, "sdist": str, "sdist_blake3": str, "target": str, "recipe_digest": str,
                "grade": str, "wheel_blake3": str, "record": str, "started": str, "seconds": float,
            },
            pk="id", if_not_exists=True,
        )
        db.table("rebuilds").create_index(["sdist", "target"], if_not_exists=True)
        db.table("rebuilds").create_index(["recipe_digest"], if_not_exists=True)
        # Download counts per file (the index server adds to them; eviction policies read them).
        db.table("downloads").create({"filename": str, "count": int, "last": float}, pk="filename", if_not_exists=True)

    def _migrate_v3(self) -> None:
        db = self.db
        # Eviction: a file's bytes may be gone while its row (digests, recipe) stays.
        cols = {c.name for c in db.table("files").columns}
        if "state" not in cols:
            db.execute("ALTER TABLE files ADD COLUMN state TEXT NOT NULL DEFAULT 'present'")
        if "recipe_digest" not in cols:
            db.execute("ALTER TABLE files ADD COLUMN recipe_digest TEXT")
        if "unrecoverable" not in cols:
            db.execute("ALTER TABLE files ADD COLUMN unrecoverable TEXT")
