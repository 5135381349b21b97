"""The catalog on PostgreSQL (psycopg 3): the schema of ``_catalog`` for stores shared by several
processes on several hosts.

Same tables, columns, version numbers and migrations as the SQLite catalog; text columns use the
``"C"`` collation so that every ``ORDER BY`` sorts as SQLite does (by bytes), whatever the server's
locale.

The tables live in the connection's current schema (the first of ``search_path``, ``public`` by
default; ``?options=-csearch_path%3DNAME`` in the URL picks another), so one database can hold
several catalogs.

Transactions: the connection runs in autocommit, so a read is one statement and sees every committed
write. :meth:`PostgresCatalog.write` opens a transaction and takes ``pg_advisory_xact_lock`` first
(keyed by the schema): one writer at a time across every process and host, as SQLite's
``BEGIN IMMEDIATE`` gives on one host, which the store's gc relies on ("re-check under the write
lock"). A statement that changes
rows outside ``write()`` runs in a write transaction of its own. Each committed write that changed
something also bumps ``meta.changes``: the change token the index server polls.
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from ..errors import CasstoreError
from .base import BaseCatalog, CatalogUnavailable

__all__ = ["WRITE_LOCK", "PostgresCatalog"]

WRITE_LOCK = 0x63617373  # "cass": the first key of write()'s advisory lock; the second names the schema
_TEXT = 'TEXT COLLATE "C"'
_RETRIED = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
_ATTEMPTS = 20
# Connection defaults (a URL's own parameters win): fail fast on a dead server, notice a dead peer.
_DEFAULTS = {"connect_timeout": "10", "application_name": "casstore", "keepalives": "1",
             "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3"}
# A writer that stops talking inside a transaction (a host gone) holds the write lock: the server ends
# its session after this long, and every other writer goes on.
IDLE_IN_TRANSACTION = "5min"


def redact(url: str) -> str:
    """The URL without its password (what error messages and ``where`` show)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """``?`` placeholders (the catalog's SQL) to psycopg's ``%s``; a literal ``%`` doubled."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresCatalog(BaseCatalog):
    """The catalog in a PostgreSQL database (15 or newer), named by a ``postgresql://`` URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact(url)
        self._lock = threading.RLock()
        self._depth = 0
        self._dirty = False
        self._watch: psycopg.Connection[Any] | None = None
        self._watch_lock = threading.Lock()
        self._conn = self._connect()
        try:
            schema = self._retrying(lambda: self._conn.execute("SELECT current_schema() s").fetchone())["s"]
            if schema is None:
                raise CatalogUnavailable(self.where, "no schema to create the catalog in (check search_path)")
            self._lock_key = (WRITE_LOCK, _int4(zlib.crc32(schema.encode())))
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, url: str) -> PostgresCatalog:
        return cls(url)

    def _connect(self, **extra: str) -> psycopg.Connection[Any]:
        try:
            conninfo = make_conninfo("", **{**_DEFAULTS, **extra, **conninfo_to_dict(self.url)})
            conn = psycopg.connect(conninfo, autocommit=True, row_factory=dict_row)
            conn.execute(f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION}'")
            return conn
        except psycopg.Error as e:
            raise CatalogUnavailable(self.where, _reason(e)) from None

    def close(self) -> None:
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
        with self._lock:
            self._conn.close()

    def change_token(self) -> tuple[int, int]:
        """``meta.changes``, read on a connection of its own (never waits for this catalog's lock)."""
        with self._watch_lock:
            for attempt in range(2):
                try:
                    if self._watch is None or self._watch.closed:
                        self._watch = self._connect(application_name="casstore-watch")
                    row = self._watch.execute("SELECT value FROM meta WHERE key = 'changes'").fetchone()
                    return (int(row["value"]) if row else 0, 0)
                except psycopg.OperationalError as e:
                    if self._watch is not None:
                        self._watch.close()
                    self._watch = None
                    if attempt == 1:
                        raise CatalogUnavailable(self.where, _reason(e)) from None
        raise AssertionError("unreachable")

    # -- transactions -------------------------------------------------------------------------

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` outside a transaction: retry serialization failures and deadlocks, reconnect
        once when the server closed the connection; any other connection failure names the URL."""
        delay = 0.01
        reconnected = False
        for attempt in range(_ATTEMPTS):
            try:
                return fn()
            except psycopg.DataError as e:
                raise _refused(self.where, e) from None
            except _RETRIED:
                if attempt == _ATTEMPTS - 1:
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)
            except psycopg.OperationalError as e:
                if reconnected or not self._conn.broken:
                    raise CatalogUnavailable(self.where, _reason(e)) from None
                self._conn.close()
                self._conn = self._connect()
                reconnected = True
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def write(self) -> Iterator[PostgresCatalog]:
        """A write transaction holding the catalog's advisory lock; nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            with contextlib.ExitStack() as stack:
                self._retrying(lambda: self._begin(stack))
                self._depth, self._dirty = 1, False
                try:
                    yield self
                    if self._dirty:
                        self._conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'changes'")
                except _RETRIED as e:  # not expected under the lock; the caller may try again
                    raise CasstoreError(f"Catalog {self.where!r}: write transaction rolled back, nothing "
                                        f"written ({_reason(e)})") from None
                except psycopg.OperationalError as e:
                    raise CatalogUnavailable(self.where, _reason(e)) from None
                finally:
                    self._depth = 0
                try:
                    stack.close()  # COMMIT
                except psycopg.OperationalError as e:
                    raise CatalogUnavailable(
                        self.where, f"the commit got no answer, the write may or may not be in: {_reason(e)}"
                    ) from None

    def _begin(self, stack: contextlib.ExitStack) -> None:
        stack.enter_context(self._conn.transaction())
        try:
            self._conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", self._lock_key)
        except BaseException:
            stack.close()  # rolls the transaction back before _retrying tries again
            raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        text, args = _pg_sql(sql), list(params)
        with self._lock:
            if self._depth:
                rows: list[dict[str, Any]] = self._in_transaction(lambda: self._conn.execute(text, args).fetchall())
            else:
                rows = self._retrying(lambda: self._conn.execute(text, args).fetchall())
            return rows

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        text, args = _pg_sql(sql), list(params)
        with self.write():
            self._dirty = True
            cursor: psycopg.Cursor[Any] = self._in_transaction(lambda: self._conn.execute(text, args))
            return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        text = _pg_sql(sql)
        with self.write():
            self._dirty = True
            self._in_transaction(lambda: self._conn.cursor().executemany(text, rows))  # pipelined by psycopg

    def _in_transaction(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except psycopg.DataError as e:
            raise _refused(self.where, e) from None
        except psycopg.OperationalError as e:
            if not isinstance(e, _RETRIED):
                raise CatalogUnavailable(self.where, _reason(e)) from None
            raise

    # -- schema -------------------------------------------------------------------------------

    def _table_exists(self, name: str) -> bool:
        rows = self.query(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
            [name],
        )
        return bool(rows)

    def _create_meta(self) -> None:
        self._ddl(f"CREATE TABLE IF NOT EXISTS meta (key {_TEXT} PRIMARY KEY, value {_TEXT})",
                  "INSERT INTO meta(key, value) VALUES ('changes', '0') ON CONFLICT DO NOTHING")

    def _ddl(self, *statements: str) -> None:
        for sql in statements:
            self.execute(sql)

    def _upgrade_steps(self) -> dict[int, Callable[[], None]]:
        return {1: self._create_v1, 2: self._create_v2, 3: self._migrate_v3}

    def _create_v1(self) -> None:
        t = _TEXT
        self._ddl(
            f"CREATE TABLE IF NOT EXISTS blobs (digest {t} PRIMARY KEY, size BIGINT, stored_size BIGINT, "
            "added DOUBLE PRECISION)",
            # layout 'blob': the bytes are the blob named blake3; 'recipe': see manifest.
            # origin: 'uploaded' | 'rebuilt' | 'mirrored'.
            f"CREATE TABLE IF NOT EXISTS files (filename {t} PRIMARY KEY, project {t} NOT NULL, "
            f"version {t} NOT NULL, kind {t} NOT NULL, tags {t}, size BIGINT NOT NULL, stored_size BIGINT, "
            f"blake3 {t} NOT NULL, sha256 {t} NOT NULL, layout {t} NOT NULL, manifest {t}, origin {t}, "
            "added DOUBLE PRECISION NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS refs (owner {t}, blob {t} REFERENCES blobs(digest), "
            "PRIMARY KEY (owner, blob))",
            "CREATE INDEX IF NOT EXISTS idx_files_project_version ON files(project, version)",
            "CREATE INDEX IF NOT EXISTS idx_files_blake3 ON files(blake3)",
            "CREATE INDEX IF NOT EXISTS idx_refs_blob ON refs(blob)",
        )

    def _create_v2(self) -> None:
        t = _TEXT
        self._ddl(
            # Rebuild records: the JSON record is a blob (pinned by owner 'record:<id>'); the columns index it.
            f"CREATE TABLE IF NOT EXISTS rebuilds (id {t} PRIMARY KEY, sdist {t}, sdist_blake3 {t}, "
            f"target {t}, recipe_digest {t}, grade {t}, wheel_blake3 {t}, record {t}, started {t}, "
            "seconds DOUBLE PRECISION)",
            "CREATE INDEX IF NOT EXISTS idx_rebuilds_sdist_target ON rebuilds(sdist, target)",
            "CREATE INDEX IF NOT EXISTS idx_rebuilds_recipe_digest ON rebuilds(recipe_digest)",
            # Download counts per file (the index server adds to them; eviction policies read them).
            f"CREATE TABLE IF NOT EXISTS downloads (filename {t} PRIMARY KEY, count BIGINT, "
            "last DOUBLE PRECISION)",
        )

    def _migrate_v3(self) -> None:
        t = _TEXT
        # Eviction: a file's bytes may be gone while its row (digests, recipe) stays.
        self._ddl(
            f"ALTER TABLE files ADD COLUMN IF NOT EXISTS state {t} NOT NULL DEFAULT 'present'",
            f"ALTER TABLE files ADD COLUMN IF NOT EXISTS recipe_digest {t}",
            f"ALTER TABLE files ADD COLUMN IF NOT EXISTS unrecoverable {t}",
        )


def _refused(where: str, e: psycopg.Error) -> CasstoreError:
    """A value PostgreSQL cannot store (a NUL character in text, say): the caller's input, not the server."""
    return CasstoreError(f"Catalog {where!r} refused a value: {_reason(e)}")


def _int4(n: int) -> int:
    return n - (1 << 32) if n >= 1 << 31 else n


def _reason(e: psycopg.Error) -> str:
    """The first line of a psycopg error (libpq's messages run over several lines)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
