"""Corruption: injected faults are found (and counted exactly) by fsck, reads fail with one clear error
naming the file, ``fsck --repair`` restores from mirrors (stores and simple-index servers) and rebuilds a
lost or damaged catalog from the blobs."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casstore import (
    CasstoreError,
    Digest,
    Store,
    StoreFormatError,
    WheelCache,
    fsck,
    open_store,
    recover_catalog,
)
from casstore.cli.main import main
from casstore.format.filerecord import RECORD_MAGIC

from .conftest import make_sdist, make_wheel
from .crashkit import RegenRebuilder, record, wheel

SHARED = {"lib/shared.py": b"# shared\n" + bytes(range(256)) * 30}


def _files() -> dict[str, bytes]:
    out = {}
    for i in range(4):
        fn, data = make_wheel("lib", f"1.{i}", files={**SHARED, f"lib/own{i}.py": os.urandom(2000) + b"x" * 3000})
        out[fn] = data
    fn, data = make_sdist("lib", "1.0", payload=b"print('lib')\n" * 300)
    out[fn] = data
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """A store with 4 wheels sharing a member and an sdist; a mirror store with the same files."""
    base = tmp_path_factory.mktemp("corruption")
    files = _files()
    for name in ("store", "mirror"):
        with Store.directory(base / name) as s:
            for fn, data in files.items():
                s.put(io.BytesIO(data), fn)
    return base, files


@pytest.fixture
def copy(template: tuple[Path, dict[str, bytes]], tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, bytes]]]:
    base, files = template
    shutil.copytree(base / "store", tmp_path / "store")
    yield tmp_path / "store", base / "mirror", files


def _content_blobs(store: Store) -> list[Digest]:
    """Blobs that file bytes need (not the file records, which only a recovery reads)."""
    return [k for k in store.objects.keys() if not store.get_blob(k).startswith(RECORD_MAGIC)]


FAULTS = ("flip", "truncate", "delete", "rewrite")


def _inject(store: Store, digest: Digest, fault: str) -> None:
    from casstore.format import compress as _compress

    p = store.objects.path(digest)  # type: ignore[attr-defined]
    raw = p.read_bytes()
    p.chmod(0o644)
    if fault == "flip":
        b = bytearray(raw)
        b[len(b) // 2] ^= 0x10
        p.write_bytes(bytes(b))
    elif fault == "truncate":
        p.write_bytes(raw[: len(raw) // 2])
    elif fault == "delete":
        p.unlink()
    else:  # a valid zstd frame of other bytes: only the digest can tell
        p.write_bytes(_compress.compress(b"not the original bytes"))


def _unreadable(store: Store, files: dict[str, bytes]) -> dict[str, str]:
    bad = {}
    for fn, data in files.items():
        try:
            assert store.get(fn) == data
        except CasstoreError as e:
            bad[fn] = str(e)
    return bad


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fsck_counts_every_injected_fault(template: tuple[Path, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory,
                                          data: st.DataObject) -> None:
    base, files = template
    root = tmp_path_factory.mktemp("inj") / "store"
    shutil.copytree(base / "store", root)
    with Store.directory(root) as store:
        blobs = _content_blobs(store)
        chosen = data.draw(st.lists(st.sampled_from(blobs), min_size=1, max_size=len(blobs), unique=True))
        kinds = [data.draw(st.sampled_from(FAULTS)) for _ in chosen]
        for d, k in zip(chosen, kinds):
            _inject(store, d, k)
        report = fsck(store)
        corrupt = {d for d, _ in report.corrupt}
        missing = set(report.missing)
        assert len(corrupt) + len(missing) == len(chosen)  # exactly K, no more, no less
        assert missing == {str(d) for d, k in zip(chosen, kinds) if k == "delete"}
        assert corrupt == {str(d) for d, k in zip(chosen, kinds) if k != "delete"}
        # damaged files are exactly the files that no longer read back, and each read names its file
        bad = _unreadable(store, files)
        assert set(report.damaged_files) == set(bad)
        for fn, msg in bad.items():
            assert fn in msg


def test_reads_fail_with_one_clear_error_naming_the_file(template: tuple[Path, dict[str, bytes]],
                                                         tmp_path: Path) -> None:
    base, files = template
    wheel_fn = min(fn for fn in files if fn.endswith(".whl"))
    for fault in FAULTS:
        root = tmp_path / fault / "store"
        shutil.copytree(base / "store", root)
        with Store.directory(root) as s:
            own = [d for d in s.catalog.blobs_of(f"file:{wheel_fn}") if s.catalog.owners_of(d) == [f"file:{wheel_fn}"]
                   and not s.get_blob(Digest(d)).startswith(RECORD_MAGIC)]
            _inject(s, Digest(own[0]), fault)
        code, err = _cli_get(root, wheel_fn)
        assert code == 1 and err.count("\n") == 1 and wheel_fn in err, (fault, err)


def _cli_get(root: Path, fn: str) -> tuple[int, str]:
    import contextlib

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["--store", str(root), "get", fn, "-o", str(root.parent / "out.whl")])
    assert not (root.parent / "out.whl").exists()  # nothing unverified escapes
    return code, err.getvalue()


def test_repair_restores_every_fault_from_a_mirror_store(copy: tuple[Path, Path, dict[str, bytes]]) -> None:
    root, mirror, files = copy
    with Store.directory(root) as store:
        blobs = _content_blobs(store)
        for i, d in enumerate(blobs):
            _inject(store, d, FAULTS[i % len(FAULTS)])
        assert not fsck(store).ok
        report = fsck(store, repair=True, mirrors=[str(mirror)])
        assert report.ok, report
        assert len(report.repaired) == len(blobs)
        assert len(report.quarantined) == sum(1 for i in range(len(blobs)) if FAULTS[i % 4] != "delete")
        assert all(Path(q).exists() for q in report.quarantined)  # moved aside, never deleted
        assert _unreadable(store, files) == {}


def test_repair_accepts_mirror_bytes_only_by_hash(copy: tuple[Path, Path, dict[str, bytes]], tmp_path: Path) -> None:
    root, mirror, _ = copy
    liar = tmp_path / "liar"
    shutil.copytree(mirror, liar)
    with Store.directory(root) as store, Store.directory(liar) as bad_mirror:
        target = _content_blobs(store)[0]
        _inject(store, target, "delete")
        _inject(bad_mirror, target, "rewrite")  # the mirror serves other bytes under the digest
        report = fsck(store, repair=True, mirrors=[bad_mirror])
        assert report.missing == [str(target)] and report.repaired == []
        assert not store.objects.exists(target)
        report = fsck(store, repair=True, mirrors=[bad_mirror, str(mirror)])  # the next mirror has it
        assert report.ok and report.repaired == [f"{target} from {mirror}"]


def test_repair_refetches_damaged_files_from_a_simple_index(copy: tuple[Path, Path, dict[str, bytes]]) -> None:
    from casstore.index.server import make_app, running

    root, mirror, files = copy
    with Store.directory(mirror) as m, running(make_app(m)) as url, Store.directory(root) as store:
        blobs = _content_blobs(store)
        for d in blobs:
            _inject(store, d, "delete")
        damaged = fsck(store).damaged_files
        assert set(damaged) == set(files)
        report = fsck(store, repair=True, mirrors=[url])
        assert report.ok, report
        assert sorted(r.split()[1] for r in report.repaired) == sorted(files)
        assert _unreadable(store, files) == {}


def test_a_bad_record_blob_is_rewritten_from_the_catalog(copy: tuple[Path, Path, dict[str, bytes]]) -> None:
    root, _, files = copy
    with Store.directory(root) as store:
        records = [k for k in store.objects.keys() if store.get_blob(k).startswith(RECORD_MAGIC)]
        assert len(records) == len(files)
        _inject(store, records[0], "flip")
        report = fsck(store)
        assert [d for d, _ in report.corrupt] == [str(records[0])] and len(report.damaged_files) == 1
        fixed = fsck(store, repair=True)  # no mirror has a file's record: it is written anew
        assert fixed.ok and fixed.repaired == [f"record of {report.damaged_files[0]} rewritten from the catalog"]
    recover_catalog(root)
    with Store.directory(root) as store:
        assert {f.filename for f in store.ls()} == set(files)


# -- the catalog ----------------------------------------------------------------------------------


def _evicting_store(root: Path) -> dict[str, bytes]:
    """A store with an sdist, wheels with rebuild records, one wheel evicted, pins and downloads."""
    from .crashkit import prepare

    sd = prepare(root)
    files = {}
    with Store.directory(root) as s:
        cache = WheelCache.attach(s, rebuilder=RegenRebuilder())
        for i in range(3):
            fn, data = wheel(i)
            s.put(io.BytesIO(data), fn)
            s.record_rebuild(record(i, i, sd))
            files[fn] = data
        assert cache.evict([wheel(0)[0]]).evicted
        s.put_blob(b"a log", ref="pin:log")
        s.count_downloads({wheel(1)[0]: 5}, 1.0)
        s.gc(grace=-1)  # the evicted wheel's own blobs go: what is left is all held by something
    return files


def _hash(data: bytes) -> str:
    from casstore.digest import hash_bytes

    return str(hash_bytes(data))


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "garbage-pages":  # every page after the first two overwritten with noise
        path.write_bytes(data[:8192] + os.urandom(len(data) - 8192))
    elif how == "garbage-tail":  # the last pages only: the catalog still opens
        path.write_bytes(data[:-8192] + os.urandom(8192))
    elif how == "garbage-header":
        path.write_bytes(os.urandom(100) + data[100:])


@pytest.mark.parametrize("how", ["deleted", "truncated", "garbage-pages", "garbage-tail", "garbage-header"])
def test_a_lost_or_damaged_catalog_is_rebuilt_from_the_blobs(tmp_path: Path, how: str) -> None:
    root = tmp_path / "store"
    files = _evicting_store(root)
    with Store.directory(root) as s:
        before = {(f.filename, str(f.blake3), f.state, f.layout, f.added) for f in s.ls()}
        records = {r["id"] for r in s.catalog.rebuilds()}
    for suffix in ("-wal", "-shm"):
        (root / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    broken = root / "catalog.sqlite"
    _damage(broken, how)
    damaged_bytes = broken.read_bytes() if broken.exists() else None
    # the damage is seen: opening refuses with a clear error naming the catalog, or fsck reports it
    try:
        with Store.directory(root) as s:
            assert fsck(s).catalog_problems
            for f in files:  # reads work or fail with the one clear error, never a raw sqlite3 one
                with contextlib.suppress(StoreFormatError):
                    s.info(f)
    except StoreFormatError as e:
        assert "catalog.sqlite" in str(e)
    assert main(["--store", str(root), "fsck", "--repair"]) == 0
    if damaged_bytes is not None:  # moved aside, byte for byte, never deleted
        kept = [p for p in root.iterdir()
                if p.name.startswith("catalog.sqlite.broken-") and not p.name.endswith(("-wal", "-shm"))]
        assert [p.read_bytes() for p in kept] == [damaged_bytes]
    with open_store(root, rebuilder=RegenRebuilder()) as s:
        assert {(f.filename, str(f.blake3), f.state, f.layout, f.added) for f in s.ls()} == before
        assert {r["id"] for r in s.catalog.rebuilds()} == records
        assert s.info(wheel(0)[0]).state == "evicted"
        for fn, data in files.items():
            assert s.get(fn) == data  # the evicted one through its recorded recipe
        assert s.downloads() == {}  # not in any blob: lost (docs/operations.md)
        # a named pin is not in any blob: its blob is kept, held by 'recovered'
        log = Digest.parse(_hash(b"a log")).hex
        assert s.catalog.blobs_of("pin:log") == [] and s.catalog.blobs_of("recovered") == [log]
        assert fsck(s).ok


def test_removed_files_do_not_come_back_after_a_recovery(copy: tuple[Path, Path, dict[str, bytes]]) -> None:
    root, _, files = copy
    gone = min(files)
    with Store.directory(root) as s:
        s.rm(gone)  # no gc yet: the removed file's member blobs are still on disk
    (root / "catalog.sqlite").unlink()
    report = recover_catalog(root)
    assert report.files == len(files) - 1
    with Store.directory(root) as s:
        assert not s.has(gone)
        assert {f.filename for f in s.ls()} == set(files) - {gone}


def test_golden_store_gets_file_records_and_then_survives_a_lost_catalog(tmp_path: Path) -> None:
    """A store written before file records existed reads as before; ``fsck --repair`` gives each file a
    record, after which its catalog can be rebuilt from the blobs alone."""
    from .test_format_golden import GOLDEN

    root = tmp_path / "golden"
    shutil.copytree(GOLDEN, root)
    with Store.directory(root, create=False) as s:
        before = {(f.filename, str(f.blake3), f.layout) for f in s.ls()}
        data = {f.filename: s.get(f.filename) for f in s.ls()}
        report = fsck(s, repair=True)
        assert report.ok and len(report.repaired) == len(before)
        assert fsck(s, repair=True).repaired == []  # once is enough
    (root / "catalog.sqlite").unlink()
    assert recover_catalog(root).files == len(before)
    with Store.directory(root, create=False) as s:
        assert {(f.filename, str(f.blake3), f.layout) for f in s.ls()} == before
        assert {f.filename: s.get(f.filename) for f in s.ls()} == data
        assert fsck(s).ok


def test_cli_fsck_reports_then_repairs_from_a_mirror(copy: tuple[Path, Path, dict[str, bytes]],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root, mirror, files = copy
    with Store.directory(root) as store:
        blobs = _content_blobs(store)
        _inject(store, blobs[0], "flip")
        _inject(store, blobs[1], "delete")
    assert main(["--store", str(root), "fsck"]) == 1
    out = capsys.readouterr().out
    assert f"corrupt      {blobs[0]}" in out and f"missing      {blobs[1]}" in out and "DAMAGED" in out
    assert main(["--store", str(root), "fsck", "--repair", "--mirror", str(mirror)]) == 0
    out = capsys.readouterr().out
    assert out.count("repaired     ") == 2 and out.count("moved aside  ") == 1 and out.strip().endswith("ok")
    with Store.directory(root) as store:
        assert _unreadable(store, files) == {}
