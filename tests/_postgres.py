"""PostgreSQL for the tests: one server per session (``$CASSTORE_TEST_PG``, else one started with
``.ci/services/postgres``), and a fresh schema per catalog (``search_path`` in the URL: creating and
dropping a schema is quick, a database costs a checkpoint)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
import pytest

from casstore import Store
from casstore.catalog.postgres import PostgresCatalog
from casstore.objects.disk import DiskObjects

SERVICE = Path(__file__).resolve().parent.parent / ".ci" / "services" / "postgres"
_created: list[str] = []  # schemas made by fresh_catalog_url, dropped at the end of the session


def postgres_server() -> Iterator[str]:
    """The URL of a server for the session. A server that cannot start fails the tests (no skips)."""
    if os.environ.get("CASSTORE_TEST_PG"):
        url = os.environ["CASSTORE_TEST_PG"]
        try:
            yield url
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                for name in _created:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        return
    # Not pytest's tmp_path: its 0700 parents would keep out the `postgres` user the server runs as.
    state = Path(tempfile.mkdtemp(prefix="casstore-pg-"))
    state.chmod(0o755)
    try:
        proc = subprocess.run([str(SERVICE), "start", str(state / "pg")], check=False, capture_output=True, text=True,
                              timeout=120)
        if proc.returncode != 0:
            pytest.fail(f"PostgreSQL did not start ({SERVICE} start): {proc.stderr.strip()}", pytrace=False)
        yield proc.stdout.strip()
    finally:
        subprocess.run([str(SERVICE), "stop", str(state / "pg")], check=False, capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


def with_schema(url: str, schema: str) -> str:
    """``url`` with libpq's ``options`` setting ``search_path``: the catalog's tables live in ``schema``."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode({"options": f"-csearch_path={schema}"})) if q)
    return urlunsplit(parts._replace(query=query))


def fresh_catalog_url(server_url: str) -> str:
    """The URL of a new, empty schema on the server (dropped at the end of the session)."""
    name = f"casstore_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    _created.append(name)
    return with_schema(server_url, name)


def postgres_store(root: Path, server_url: str) -> Store:
    """Blobs on disk under ``root``, the catalog in a fresh PostgreSQL schema."""
    root.mkdir(parents=True, exist_ok=True)
    catalog = PostgresCatalog.open(fresh_catalog_url(server_url))
    return Store(DiskObjects(root), catalog, root=root)
