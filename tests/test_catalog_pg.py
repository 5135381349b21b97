"""The catalog interface on both engines: migrations, refusal of a newer schema, change tokens, URLs;
and PostgreSQL shared by several processes (one writer at a time, nothing lost, gc safe)."""

from __future__ import annotations

import io
import multiprocessing as mp
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casstore import Store, StoreFormatError, fsck
from casstore.catalog import base as _catalog
from casstore.catalog import open_catalog
from casstore.catalog.base import BaseCatalog, CatalogUnavailable
from casstore.catalog.postgres import PostgresCatalog
from casstore.catalog.sqlite import Catalog
from casstore.errors import CasstoreError
from casstore.objects.disk import DiskObjects

from ._postgres import fresh_catalog_url
from .conftest import make_wheel

Opener = Callable[[], BaseCatalog]
TABLES = ("blobs", "downloads", "files", "meta", "rebuilds", "refs")


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the same (at first empty) catalog again each call: a file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        target = str(tmp_path / "catalog.sqlite")
    else:
        target = fresh_catalog_url(request.getfixturevalue("postgres_url"))
    return lambda: open_catalog(target)


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    return fresh_catalog_url(postgres_url)


def _columns(cat: BaseCatalog, table: str) -> set[str]:
    if isinstance(cat, Catalog):
        return {c.name for c in cat.db.table(table).columns}
    return {r["column_name"] for r in cat.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ?", [table])}


def _file_row(name: str) -> dict[str, object]:
    return {"filename": name, "project": "demo", "version": "1.0", "kind": "wheel", "tags": "py3-none-any",
            "size": 3, "stored_size": 3, "blake3": "ab" * 32, "sha256": "cd" * 32, "layout": "blob",
            "manifest": None, "origin": "uploaded", "added": 1.5}


# -- schema -----------------------------------------------------------------------------------


def test_an_empty_catalog_is_created_at_the_current_schema(opener: Opener) -> None:
    cat = opener()
    try:
        assert cat.schema_version() == _catalog.SCHEMA_VERSION == 3
        assert all(cat._table_exists(t) for t in TABLES)
        assert {"state", "recipe_digest", "unrecoverable", "blake3", "layout"} <= _columns(cat, "files")
    finally:
        cat.close()


def test_both_engines_have_the_same_tables_and_columns(tmp_path: Path, pg_url: str) -> None:
    lite, pg = open_catalog(tmp_path / "c.sqlite"), open_catalog(pg_url)
    try:
        for table in TABLES:
            assert _columns(lite, table) == _columns(pg, table), table
    finally:
        lite.close()
        pg.close()


def test_a_schema_2_catalog_is_migrated_and_keeps_its_rows(opener: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(_catalog, "SCHEMA_VERSION", 2)  # what casstore wrote before eviction existed
        old = opener()
        assert old.schema_version() == 2
        assert "state" not in _columns(old, "files")
        old.insert_file(_file_row("demo-1.0-py3-none-any.whl"))
        old.close()
    cat = opener()
    try:
        assert cat.schema_version() == 3
        row = cat.file("demo-1.0-py3-none-any.whl")
        assert row is not None and row["state"] == "present" and row["recipe_digest"] is None
        assert row["size"] == 3 and row["added"] == 1.5
    finally:
        cat.close()


def test_a_newer_schema_is_refused_and_left_alone(opener: Opener) -> None:
    cat = opener()
    cat.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    cat.close()
    with pytest.raises(StoreFormatError, match=r"catalog schema 4 is newer than this casstore \(3\)"):
        opener()
    with pytest.MonkeyPatch.context() as m:  # a casstore that knows schema 4 still sees it untouched
        m.setattr(_catalog, "SCHEMA_VERSION", 4)
        again = opener()
        assert again.schema_version() == 4
        again.close()


# -- change token, transactions ---------------------------------------------------------------


def test_change_token_moves_after_every_commit_from_any_connection(opener: Opener) -> None:
    watcher, writer = opener(), opener()
    try:
        t0 = watcher.change_token()
        assert watcher.blobs() == [] and watcher.change_token() == t0  # reads change nothing
        writer.add_blob("ab" * 32, 3, 3)
        t1 = watcher.change_token()
        assert t1 != t0
        with watcher.write():
            watcher.add_ref("pin:x", "ab" * 32)
        t2 = watcher.change_token()
        assert t2 not in (t0, t1)
    finally:
        watcher.close()
        writer.close()


def test_a_failed_write_transaction_changes_nothing(opener: Opener) -> None:
    cat = opener()
    try:
        t0 = cat.change_token()
        with pytest.raises(RuntimeError), cat.write():
            cat.add_blob("ab" * 32, 3, 3)
            with cat.write():  # nested: joins the outer transaction
                cat.add_ref("pin:x", "ab" * 32)
            raise RuntimeError("abort")
        assert cat.blobs() == [] and cat.owners_of("ab" * 32) == []
        assert cat.change_token() == t0
    finally:
        cat.close()


def test_raw_sql_with_question_marks_and_percent_signs(pg_url: str) -> None:
    cat = open_catalog(pg_url)
    try:
        cat.add_blob("ab" * 32, 3, 3)
        cat.add_ref("file:100%?.whl", "ab" * 32)
        rows = cat.query("SELECT owner FROM refs WHERE owner LIKE 'file:%' AND blob = ?", ["ab" * 32])
        assert rows == [{"owner": "file:100%?.whl"}]
        assert cat.totals()["stored"] == 3  # the blob a file holds, counted by the LIKE 'file:%' query
    finally:
        cat.close()


_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)
_int64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)


@pytest.fixture
def both(tmp_path: Path, pg_url: str) -> Iterator[list[BaseCatalog]]:
    """One SQLite and one PostgreSQL catalog, shared by every example of a property test."""
    cats = [open_catalog(tmp_path / "c.sqlite"), open_catalog(pg_url)]
    yield cats
    for cat in cats:
        cat.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(project=_text, version=_text, tags=st.none() | _text, size=_int64, added=st.floats(allow_nan=False),
       manifest=st.none() | _text, owner=_text, n=st.integers(min_value=0, max_value=1 << 40))
def test_rows_read_back_the_same_from_both_engines(both: list[BaseCatalog], project: str, version: str,
                                                    tags: str | None, size: int, added: float,
                                                    manifest: str | None, owner: str, n: int) -> None:
    for cat in both:
        row = {**_file_row(f"f-{owner}"), "project": project, "version": version, "tags": tags,
               "size": size, "added": added, "manifest": manifest}
        cat.delete_file(row["filename"])
        cat.insert_file(row)
        assert cat.file(row["filename"]) == {**row, "state": "present", "recipe_digest": None,
                                             "unrecoverable": None}
        before = cat.downloads().get(row["filename"], 0)
        cat.add_downloads({row["filename"]: n}, added)
        cat.add_downloads({row["filename"]: 1}, added)
        assert cat.downloads()[row["filename"]] == before + n + 1
        cat.add_blob("ab" * 32, 1, 1)
        cat.add_ref(owner, "ab" * 32)
        assert owner in cat.owners_of("ab" * 32) and "ab" * 32 in cat.blobs_of(owner)
    assert both[0].owners_of("ab" * 32) == both[1].owners_of("ab" * 32)  # the same order: by bytes


# -- URLs and failures -------------------------------------------------------------------------


def test_text_postgresql_cannot_hold_is_one_clear_error_and_nothing_is_written(pg_url: str) -> None:
    cat = open_catalog(pg_url)
    try:
        cat.add_blob("ab" * 32, 3, 3)
        with pytest.raises(CasstoreError, match=r"refused a value: .*0x00"), cat.write():
            cat.add_ref("pin:ok", "ab" * 32)
            cat.add_ref("pin:a\x00b", "ab" * 32)
        assert cat.owners_of("ab" * 32) == []
        with pytest.raises(CasstoreError, match="refused a value"):
            cat.file("demo\x00.whl")
    finally:
        cat.close()


def test_open_catalog_picks_the_engine_by_url(tmp_path: Path, pg_url: str) -> None:
    for target in (tmp_path / "a.sqlite", str(tmp_path / "b.sqlite"), f"sqlite://{tmp_path}/c.sqlite",
                   f"sqlite:///{tmp_path}/d.sqlite"):
        cat = open_catalog(target)
        assert type(cat) is Catalog
        cat.close()
    assert {p.name for p in tmp_path.glob("*.sqlite")} == {"a.sqlite", "b.sqlite", "c.sqlite", "d.sqlite"}
    cat = open_catalog(pg_url)
    assert type(cat) is PostgresCatalog
    cat.close()
    with pytest.raises(CasstoreError, match="scheme 'mysql' is not sqlite or postgresql"):
        open_catalog("mysql://u@h/db")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_is_one_clear_error_without_the_password() -> None:
    url = f"postgresql://casstore:hunter2@127.0.0.1:{_closed_port()}/casstore"
    with pytest.raises(CatalogUnavailable) as e:
        open_catalog(url)
    message = str(e.value)
    assert "\n" not in message and "hunter2" not in message
    assert f"postgresql://casstore:***@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/casstore" in message
    assert "Connection refused" in message


def test_a_dropped_connection_is_reopened_for_the_next_read(pg_url: str, postgres_url: str) -> None:
    cat = open_catalog(pg_url)
    try:
        cat.add_blob("ab" * 32, 3, 3)
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # e.g. a server restart
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'casstore' AND pid <> pg_backend_pid()")
        assert [r["digest"] for r in cat.blobs()] == ["ab" * 32]
        cat.add_ref("pin:x", "ab" * 32)
        assert cat.owners_of("ab" * 32) == ["pin:x"]
    finally:
        cat.close()


# -- many processes on one PostgreSQL catalog --------------------------------------------------

N_PROCS = 4


def _run(target: Callable[..., None], args: tuple[object, ...]) -> list[str]:
    ctx = mp.get_context("spawn")
    q: mp.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_report, args=(target, (*args, i), q)) for i in range(N_PROCS)]
    for p in procs:
        p.start()
    results = [q.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


def _report(target: Callable[..., None], args: tuple[object, ...], q: mp.Queue[str]) -> None:
    try:
        target(*args)
        q.put("ok")
    except Exception as e:  # noqa: BLE001 (report anything, never hang the parent)
        q.put(f"{type(e).__name__}: {e}")


def _catalog_writer(url: str, rounds: int, me: int) -> None:
    cat = open_catalog(url)
    for i in range(rounds):
        with cat.write():
            # A read-modify-write: only exclusive write transactions keep every increment.
            n = int(cat.query("SELECT value FROM meta WHERE key = 'test_counter'")[0]["value"])
            cat.execute("UPDATE meta SET value = ? WHERE key = 'test_counter'", [str(n + 1)])
            # Check-then-insert on names every process also inserts (overlapping): never a duplicate key.
            name = f"demo-{i}-py3-none-any.whl"
            if cat.file(name) is None:
                cat.insert_file(_file_row(name))
            digest = f"{i:064x}"
            cat.add_blob(digest, i, i)
            cat.add_ref(f"file:{name}", digest)
            cat.add_ref(f"pin:{me}", digest)
    cat.close()


def test_four_processes_write_one_catalog_without_losing_or_doubling_rows(pg_url: str) -> None:
    cat = open_catalog(pg_url)
    cat.execute("INSERT INTO meta(key, value) VALUES ('test_counter', '0')")
    rounds = 40
    assert _run(_catalog_writer, (pg_url, rounds)) == ["ok"] * N_PROCS
    try:
        assert cat.query("SELECT value FROM meta WHERE key = 'test_counter'")[0]["value"] == str(N_PROCS * rounds)
        assert [f["filename"] for f in cat.files()] == sorted(f"demo-{i}-py3-none-any.whl" for i in range(rounds))
        assert len(cat.blobs()) == rounds
        refs = cat.query("SELECT owner, blob FROM refs")
        assert len(refs) == len({(r["owner"], r["blob"]) for r in refs}) == rounds * (1 + N_PROCS)
    finally:
        cat.close()


def _opener(url: str, me: int) -> None:
    cat = open_catalog(url)
    with cat.write():  # the first one in adds the blob, every later one pins it
        if cat.blob("ab" * 32) is None:
            cat.add_blob("ab" * 32, me, me)
        else:
            cat.add_ref(f"pin:{me}", "ab" * 32)
    cat.close()


def test_four_processes_create_one_fresh_catalog_at_once(pg_url: str) -> None:
    # Concurrent CREATE TABLE IF NOT EXISTS races in PostgreSQL itself; the write lock orders them.
    assert _run(_opener, (pg_url,)) == ["ok"] * N_PROCS
    cat = open_catalog(pg_url)
    try:
        assert cat.schema_version() == 3
        assert len(cat.blobs()) == 1 and len(cat.owners_of("ab" * 32)) == N_PROCS - 1
    finally:
        cat.close()


def _files(n: int) -> list[tuple[str, bytes]]:
    return [make_wheel("pkg", f"1.{i}", files={"pkg/m.py": f"V = {i}\n".encode() * 2000,
                                                 "pkg/shared.py": b"SHARED = 1\n" * 500}) for i in range(n)]


def _store_worker(root: str, url: str, total: int, me: int) -> None:
    store = Store(DiskObjects(Path(root)), PostgresCatalog.open(url), root=Path(root))
    files = _files(total)
    for j in range(total):
        if me == N_PROCS - 1 and j % 3 == 0:
            store.gc(grace=0)  # no grace at all: only the write lock keeps it off blobs being put
        fn, data = files[(me * 7 + j) % total]
        for _attempt in range(20):  # a put whose fresh blob the gc took asks to be retried
            try:
                store.put(io.BytesIO(data), fn)
                break
            except CasstoreError as e:
                if "concurrent gc" not in str(e):
                    raise
        assert store.get(fn) == data
    store.close()


def test_four_processes_put_overlapping_files_beside_a_gc_with_no_grace(tmp_path: Path, pg_url: str) -> None:
    root = tmp_path / "store"
    root.mkdir()
    total = 24
    assert _run(_store_worker, (str(root), pg_url, total)) == ["ok"] * N_PROCS
    store = Store(DiskObjects(root), PostgresCatalog.open(pg_url), root=root)
    try:
        expected = dict(_files(total))
        assert {f.filename for f in store.ls()} == set(expected)
        for fn, data in expected.items():
            assert store.get(fn) == data
        store.gc(grace=0)
        report = fsck(store)
        assert report.ok and report.unreferenced == [] and report.missing == []
    finally:
        store.close()


@pytest.fixture
def pg_store(tmp_path: Path, pg_url: str) -> Iterator[Store]:
    s = Store(DiskObjects(tmp_path / "store"), PostgresCatalog.open(pg_url), root=tmp_path / "store")
    yield s
    s.close()


def test_stats_and_listings_sort_as_sqlite_does(pg_store: Store, tmp_path: Path) -> None:
    lite = Store.directory(tmp_path / "lite")
    try:
        for name in ("Zeta", "alpha", "Beta", "beta_two"):
            fn, data = make_wheel(name, "1.0")
            pg_store.put(io.BytesIO(data), fn)
            lite.put(io.BytesIO(data), fn)
        assert [f.filename for f in pg_store.ls()] == [f.filename for f in lite.ls()]
        assert pg_store.catalog.projects() == lite.catalog.projects()
        # (stored bytes may differ by a byte or two: each put also stores a record with its own time)
        pg, sq = pg_store.stats(), lite.stats()
        assert (pg.files, pg.sdists, pg.wheels, pg.raw_bytes) == (sq.files, sq.sdists, sq.wheels, sq.raw_bytes)
        assert [(p.project, p.files, p.raw_bytes) for p in pg.projects] == [
            (p.project, p.files, p.raw_bytes) for p in sq.projects]
        assert abs(pg.stored_bytes - sq.stored_bytes) < 100
    finally:
        lite.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_the_index_server_sees_a_put_by_another_process(engine: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    import warnings

    from casstore.index.server import make_app
    with warnings.catch_warnings():  # as in test_server: starlette's test client over httpx
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    root = tmp_path / "store"
    if engine == "sqlite":
        def opened() -> Store:
            return Store.directory(root)
    else:
        url = fresh_catalog_url(request.getfixturevalue("postgres_url"))
        root.mkdir()

        def opened() -> Store:
            return Store(DiskObjects(root), PostgresCatalog.open(url), root=root)
    served, other = opened(), opened()  # two catalogs, two connections: as two processes have
    try:
        fn, data = make_wheel("demo", "1.0")
        served.put(io.BytesIO(data), fn)
        with TestClient(make_app(served)) as client:
            assert [f["filename"] for f in client.get("/simple/demo/?format=json").json()["files"]] == [fn]
            fn2, data2 = make_wheel("demo", "2.0")
            other.put(io.BytesIO(data2), fn2)  # the served store's page cache must not hide it
            assert [f["filename"] for f in client.get("/simple/demo/?format=json").json()["files"]] == [fn, fn2]
    finally:
        served.close()
        other.close()
