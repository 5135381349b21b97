"""Opening stores by location, and the scale-out store: blobs on S3 (radosgw), catalog on PostgreSQL.

The services are real: the ``s3_url`` and ``postgres_url`` fixtures (tests/conftest.py) use the
servers .ci/run started, or start their own.
"""

from __future__ import annotations

import io
import multiprocessing as mp
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from casstore import CasstoreError, StoreFormatError, fsck, open_store
from casstore.cli.main import cli

from ._postgres import fresh_catalog_url
from .conftest import fresh_s3_prefix, make_sdist, make_wheel


def test_a_path_and_a_file_url_open_the_same_directory_store(tmp_path: Path) -> None:
    fn, data = make_wheel()
    with open_store(tmp_path / "s") as s:
        s.put(io.BytesIO(data), fn)
    with open_store(f"file://{tmp_path / 's'}", create=False) as s:
        assert s.get(fn) == data


def test_memory_url_is_an_empty_store_of_its_own() -> None:
    fn, data = make_wheel()
    with open_store("memory://") as s:
        s.put(io.BytesIO(data), fn)
        assert s.get(fn) == data
    with open_store("memory://") as s:
        assert s.ls() == []


@pytest.mark.parametrize(("location", "catalog", "reason"), [
    ("ftp://host/x", None, "expected a directory, file://, memory:// or s3:// URL"),
    ("s3://bucket/prefix?endpoint=http://127.0.0.1:9", None, "needs a catalog"),
    ("memory://", "/tmp/x.sqlite", "do not give --catalog"),
])
def test_bad_locations_are_refused_with_the_reason(location: str, catalog: str | None, reason: str) -> None:
    with pytest.raises(CasstoreError, match=reason):
        open_store(location, catalog=catalog)


def test_s3_with_sqlite_catalog_round_trips_and_reopens(s3_url: str, tmp_path: Path) -> None:
    url, cat = fresh_s3_prefix(s3_url), tmp_path / "catalog.sqlite"
    fn, data = make_wheel("scale", "1.0", files={"scale/a.py": b"A = 1\n" * 5000})
    sn, sdata = make_sdist("scale", "1.0")
    with open_store(url, catalog=cat) as s:
        s.put(io.BytesIO(data), fn)
        s.put(io.BytesIO(sdata), sn)
    with open_store(url, catalog=cat, create=False) as s:
        assert s.get(fn) == data and s.get(sn) == sdata
        assert fsck(s).ok


def test_a_catalog_is_never_paired_with_another_stores_objects(s3_url: str, tmp_path: Path) -> None:
    cat = tmp_path / "catalog.sqlite"
    open_store(fresh_s3_prefix(s3_url), catalog=cat).close()
    with pytest.raises(StoreFormatError, match="describes the objects at"):
        open_store(fresh_s3_prefix(s3_url), catalog=cat)


def test_reading_a_store_that_was_never_created_changes_nothing(s3_url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreFormatError, match="run 'casstore init' first"):
        open_store(fresh_s3_prefix(s3_url), catalog=tmp_path / "none.sqlite", create=False)
    assert not (tmp_path / "none.sqlite").exists()


def test_cli_runs_on_s3_and_postgres(s3_url: str, postgres_url: str, tmp_path: Path) -> None:
    fn, data = make_wheel("clis3", "2.0")
    (tmp_path / fn).write_bytes(data)
    base = ["--store", fresh_s3_prefix(s3_url), "--catalog", fresh_catalog_url(postgres_url)]
    runner = CliRunner()
    for args in (["init"], ["put", str(tmp_path / fn)], ["ls"], ["get", fn, "-o", str(tmp_path / "out.whl")],
                 ["fsck"]):
        r = runner.invoke(cli, [*base, *args], catch_exceptions=False)
        assert r.exit_code == 0, (args, r.output)
        if args == ["ls"]:
            assert fn in r.output
    assert (tmp_path / "out.whl").read_bytes() == data


# -- many writers on one S3 + PostgreSQL store ---------------------------------------------------

_N_FILES = 24


def _corpus() -> list[tuple[str, bytes]]:
    # Overlapping on purpose: every wheel shares its package files with the others.
    shared = {f"pkg/shared{i}.py": f"S{i} = {i}\n".encode() * 3000 for i in range(4)}
    return [make_wheel("pkg", f"1.{i}", files={**shared, "pkg/own.py": f"V = {i}\n".encode() * 500})
            for i in range(_N_FILES)]


def _writer(url: str, catalog: str, start: int, q: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        files = _corpus()
        with open_store(url, catalog=catalog, create=False) as store:
            for j in range(_N_FILES):  # every writer puts every file, from its own starting point
                fn, data = files[(start + j) % _N_FILES]
                store.put(io.BytesIO(data), fn)
                if j % 3 == 0:
                    store.gc()  # default grace period, alongside the puts
                assert store.get(fn) == data
        q.put("ok")
    except BaseException as e:  # report, never hang the parent
        q.put(f"{type(e).__name__}: {e}")


def test_eight_writers_share_one_s3_postgres_store(s3_url: str, postgres_url: str) -> None:
    url, catalog = fresh_s3_prefix(s3_url), fresh_catalog_url(postgres_url)
    open_store(url, catalog=catalog).close()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, catalog, i * 3, q)) for i in range(8)]
    for p in procs:
        p.start()
    results = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
    assert results == ["ok"] * 8

    files = dict(_corpus())
    with open_store(url, catalog=catalog, create=False) as store:
        assert sorted(i.filename for i in store.ls()) == sorted(files)
        # Losers of a race leave unreferenced blobs (e.g. their own file record): garbage that gc may
        # take. gc must take nothing a file needs: every file still reads back verified afterwards.
        removed = store.gc(grace=0).removed
        assert not any(store.catalog.is_referenced(d.split(":", 1)[1]) for d in removed)
        for fn, data in files.items():
            assert store.get(fn) == data
        report = fsck(store)
        assert report.ok, report.to_json()
    with psycopg.connect(catalog) as conn:  # no duplicate rows anywhere
        for table, key in (("files", "filename"), ("blobs", "digest"), ("refs", "owner, blob")):
            total, distinct = conn.execute(
                f"SELECT count(*), count(DISTINCT ({key})) FROM {table}").fetchone()  # type: ignore[misc]
            assert total == distinct, table


def test_recipe_reads_on_s3_fetch_blobs_at_once_and_still_verify_each(s3_url: str, tmp_path: Path) -> None:
    """S3 reads fetch a recipe's member blobs concurrently (Store._prefetched); a blob replaced by
    other valid bytes is still caught, naming the file."""
    import random

    import zstandard

    from casstore import ChecksumMismatch, Digest
    from casstore.format.filerecord import RECORD_MAGIC

    r = random.Random(1)  # members big and distinct enough to be blobs of their own
    fn, data = make_wheel("pre", "1.0", files={
        f"pre/m{i}.py": "".join(f"V{r.randrange(10**9)} = {r.random()}\n" for _ in range(3000)).encode()
        for i in range(6)})
    with open_store(fresh_s3_prefix(s3_url), catalog=tmp_path / "c.sqlite") as s:
        info = s.put(io.BytesIO(data), fn)
        assert info.layout == "recipe"
        members = [d for d in s.catalog.blobs_of(f"file:{fn}") if d != s.catalog.file(fn)["manifest"]
                   and not s.get_blob(Digest(d)).startswith(RECORD_MAGIC)]  # the file record is not read by get
        assert len(members) >= 6
        assert s.get(fn) == data
        victim = s.catalog.blob(members[0])
        objects = s.objects
        objects._client.put_object(Bucket=objects.bucket, Key=f"{objects._obj_prefix}{members[0]}",
                                   Body=zstandard.ZstdCompressor().compress(b"x" * victim["size"]))
        with pytest.raises(ChecksumMismatch, match=fn):
            s.get(fn)
