"""The catalog: what the blobs mean. One interface, two engines.

Tables: ``files`` (one row per sdist or wheel), ``blobs`` (one row per stored blob) and ``refs``
(which owner — a file, or a named pin such as a rebuild log — holds which blob). A blob with no
``refs`` row is garbage once its grace period is over. ``rebuilds`` and ``downloads`` (schema 2) hold
rebuild records and download counts; ``meta`` holds ``schema_version``.

:class:`BaseCatalog` is the interface the rest of casstore uses, with every row method written once in
the SQL both engines speak (``?`` placeholders, ``ON CONFLICT`` upserts). :class:`~casstore.catalog.sqlite.Catalog` is the
embedded default, SQLite through sqlite-utils; :class:`~casstore.catalog.postgres.PostgresCatalog` runs the same
schema on PostgreSQL. :func:`open_catalog` picks one by URL.

The contract both keep: :meth:`BaseCatalog.write` is a single-writer transaction across every process
sharing the catalog (nested calls join the outer one), so "re-check under the write lock" is sound;
reads outside it see every committed write; :meth:`BaseCatalog.change_token` moves after every commit.
"""

from __future__ import annotations

import abc
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..errors import CasstoreError, StoreFormatError

__all__ = ["SCHEMA_VERSION", "BaseCatalog", "CatalogUnavailable"]

SCHEMA_VERSION = 3


class CatalogUnavailable(CasstoreError):
    """The catalog's database cannot be reached (a PostgreSQL server down, refusing, unknown...)."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"Catalog {where!r} is unavailable: {reason}")


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...


class BaseCatalog(abc.ABC):
    """The catalog interface. Engines provide transactions, raw SQL and the schema steps; the row
    methods below are shared. SQL here uses ``?`` placeholders and the subset of SQL that SQLite
    and PostgreSQL both accept."""

    where: str  # what messages name: a path, or a URL without its password

    # -- engine -------------------------------------------------------------------------------

    @abc.abstractmethod
    def write(self) -> contextlib.AbstractContextManager[Any]:
        """A write transaction, exclusive across every process sharing the catalog; nested calls join."""

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read (``?`` placeholders)."""

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        """Run one statement that changes rows (``?`` placeholders); its own transaction if none is open."""

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for each of ``rows`` (sent together where the engine can), in one transaction."""

    @abc.abstractmethod
    def change_token(self) -> object:
        """A value that differs after any process commits a change; cheap, and never waits for a writer."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def _table_exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def _create_meta(self) -> None: ...

    @abc.abstractmethod
    def _upgrade_steps(self) -> dict[int, Callable[[], None]]:
        """Schema version -> the step that brings the previous version to it (idempotent DDL)."""

    # -- schema -------------------------------------------------------------------------------

    def _stored_version(self) -> int:
        if not self._table_exists("meta"):
            return 0
        rows = self.query("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(rows[0]["value"]) if rows else 0

    def _migrate(self) -> None:
        """Create or upgrade the schema; refuse one newer than this casstore."""
        if self._stored_version() == SCHEMA_VERSION:
            return  # the common case: no write transaction at open
        with self.write():
            self._create_meta()
            version = self._stored_version()
            if version > SCHEMA_VERSION:
                raise StoreFormatError(
                    self.where, f"catalog schema {version} is newer than this casstore ({SCHEMA_VERSION})"
                )
            if version == SCHEMA_VERSION:
                return
            steps = self._upgrade_steps()
            for v in range(version + 1, SCHEMA_VERSION + 1):
                steps[v]()
            self.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [str(SCHEMA_VERSION)],
            )

    def schema_version(self) -> int:
        return self._stored_version()

    # -- rows ---------------------------------------------------------------------------------

    def add_blob(self, digest: str, size: int, stored_size: int) -> None:
        self.execute(
            "INSERT INTO blobs(digest, size, stored_size, added) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [digest, size, stored_size, time.time()],
        )

    def attach(self, owner: str, blobs: Sequence[tuple[str, int, int]]) -> None:
        """Record blobs (digest, size, stored size) and make ``owner`` hold every one of them."""
        now = time.time()
        self.executemany(
            "INSERT INTO blobs(digest, size, stored_size, added) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(d, size, stored, now) for d, size, stored in blobs],
        )
        self.executemany("INSERT INTO refs(owner, blob) VALUES (?, ?) ON CONFLICT DO NOTHING",
                         [(owner, d) for d, _, _ in blobs])

    def add_ref(self, owner: str, blob: str) -> None:
        self.execute("INSERT INTO refs(owner, blob) VALUES (?, ?) ON CONFLICT DO NOTHING", [owner, blob])

    def drop_refs(self, owner: str) -> int:
        return self.execute("DELETE FROM refs WHERE owner = ?", [owner]).rowcount

    def drop_ref(self, owner: str, blob: str) -> None:
        self.execute("DELETE FROM refs WHERE owner = ? AND blob = ?", [owner, blob])

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

    def projects(self) -> list[str]:
        """Every project with a file in the catalog, sorted."""
        return [r["project"] for r in self.query("SELECT DISTINCT project FROM files ORDER BY project")]

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
        sets = ", ".join(f"{c} = excluded.{c}" for c in row if c != "id")
        self.execute(
            f"INSERT INTO rebuilds({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {sets}",
            list(row.values()),
        )

    def rebuilds(self, sdist: str | None = None, target: str | None = None,
                 recipe_digest: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        for col, val in (("sdist", sdist), ("target", target), ("recipe_digest", recipe_digest)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        sql = "SELECT * FROM rebuilds" + (" WHERE " + " AND ".join(where) if where else "")
        return self.query(sql + " ORDER BY started, id", params)

    def recipes_of_wheel(self, wheel_blake3: str) -> set[str]:
        """The recipe digests of every rebuild record that produced a wheel with this digest."""
        rows = self.query("SELECT DISTINCT recipe_digest FROM rebuilds WHERE wheel_blake3 = ?", [wheel_blake3])
        return {r["recipe_digest"] for r in rows}

    def add_downloads(self, counts: dict[str, int], when: float) -> None:
        for filename, n in counts.items():
            self.execute(
                "INSERT INTO downloads(filename, count, last) VALUES (?, ?, ?) ON CONFLICT(filename) "
                "DO UPDATE SET count = downloads.count + excluded.count, last = excluded.last",
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

    def totals(self) -> dict[str, int]:
        """Counts and sizes over the whole catalog: files, sdists, wheels, raw (bytes of the files) and
        stored (bytes of the blobs files hold, each blob once)."""
        row = self.query(
            "SELECT count(*) n, coalesce(sum(CASE WHEN kind = 'sdist' THEN 1 ELSE 0 END), 0) s, "
            "coalesce(sum(CASE WHEN kind = 'wheel' THEN 1 ELSE 0 END), 0) w, coalesce(sum(size), 0) raw FROM files"
        )[0]
        stored = self.query(
            "SELECT coalesce(sum(b.stored_size), 0) st FROM blobs b WHERE b.digest IN "
            "(SELECT blob FROM refs WHERE owner LIKE ?)", ["file:%"]
        )[0]["st"]
        return {"files": int(row["n"]), "sdists": int(row["s"]), "wheels": int(row["w"]),
                "raw": int(row["raw"]), "stored": int(stored)}

    def project_totals(self) -> list[dict[str, Any]]:
        """Per project: ``project``, ``files``, ``raw`` and ``stored`` (its blobs, each once), by project."""
        per = self.query("SELECT project, count(*) n, sum(size) raw FROM files GROUP BY project ORDER BY project")
        stored = {
            r["project"]: int(r["st"])
            for r in self.query(
                "SELECT p.project, sum(b.stored_size) st FROM (SELECT DISTINCT f.project, r.blob FROM files f "
                "JOIN refs r ON r.owner = 'file:' || f.filename) p JOIN blobs b ON b.digest = p.blob "
                "GROUP BY p.project"
            )
        }
        return [{"project": r["project"], "files": int(r["n"]), "raw": int(r["raw"]),
                 "stored": stored.get(r["project"], 0)} for r in per]
