"""The store contract, run against the disk store and the memory store alike."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from casstore import (
    ChecksumMismatch,
    Digest,
    FileConflict,
    InvalidContent,
    InvalidDigest,
    InvalidFilename,
    NotFound,
    Store,
    fsck,
)
from casstore.format.filerecord import RECORD_MAGIC

from .conftest import make_sdist, make_wheel


def test_put_then_get_returns_identical_bytes_and_catalog_fields(store: Store) -> None:
    fn, data = make_wheel("Demo_Pkg", "1.2.3", tag="cp311-cp311-manylinux_2_17_x86_64")
    info = store.put(io.BytesIO(data), fn)
    assert store.get(fn) == data
    assert info.project == "demo-pkg"
    assert info.version == "1.2.3"
    assert info.kind == "wheel"
    assert info.tags == ("cp311-cp311-manylinux_2_17_x86_64",)
    assert info.size == len(data)
    import hashlib

    import blake3

    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.blake3 == Digest(blake3.blake3(data).hexdigest())
    assert store.info(fn) == info


def test_open_by_digest_streams_the_same_bytes(store: Store) -> None:
    fn, data = make_sdist()
    info = store.put(io.BytesIO(data), fn)
    with store.open(info.blake3) as f:
        assert f.read() == data
    with store.open(str(info.blake3)) as f:
        assert f.read() == data


def test_second_put_of_same_bytes_writes_nothing_new(store: Store) -> None:
    fn, data = make_wheel()
    store.put(io.BytesIO(data), fn)
    before = sorted(store.objects.keys())
    store.put(io.BytesIO(data), fn)
    assert sorted(store.objects.keys()) == before
    assert len(store.ls()) == 1


def test_same_filename_with_other_bytes_is_a_conflict_and_changes_nothing(store: Store) -> None:
    fn, data = make_wheel(files={"demo/__init__.py": b"A = 1\n"})
    _, other = make_wheel(files={"demo/__init__.py": b"A = 2\n"})
    store.put(io.BytesIO(data), fn)
    with pytest.raises(FileConflict) as e:
        store.put(io.BytesIO(other), fn)
    assert fn in str(e.value)
    assert store.get(fn) == data


@pytest.mark.parametrize("bad", ["demo.txt", "demo-1.0.whl", "../evil-1.0.tar.gz", "a/b-1.0.tar.gz",
                                 ".hidden-1.0.tar.gz", "demo-1.0-py3-none-any.whl\x00", ""])
def test_invalid_filenames_are_refused_and_nothing_is_written(store: Store, bad: str) -> None:
    with pytest.raises(InvalidFilename) as e:
        store.put(io.BytesIO(b"PK\x03\x04whatever"), bad)
    assert repr(bad) in str(e.value)
    assert store.ls() == []
    assert list(store.objects.keys()) == []


def test_non_zip_named_whl_is_refused(store: Store) -> None:
    with pytest.raises(InvalidContent, match="not a zip archive"):
        store.put(io.BytesIO(b"#!/bin/sh\necho hi\n"), "demo-1.0-py3-none-any.whl")
    with pytest.raises(InvalidContent, match="not gzip"):
        store.put(io.BytesIO(b"plain text"), "demo-1.0.tar.gz")
    assert store.ls() == [] and list(store.objects.keys()) == []


def test_truncated_wheel_is_still_stored_bit_exactly(store: Store) -> None:
    """Odd but well-labelled bytes are kept as they are: the store never 'repairs' input."""
    fn, data = make_wheel()
    info = store.put(io.BytesIO(data[: len(data) // 2]), fn)
    assert store.get(fn) == data[: len(data) // 2]
    assert info.size == len(data) // 2


def test_ls_filters_by_project_version_and_kind(store: Store) -> None:
    for v in ("1.0", "2.0"):
        fn, data = make_wheel("alpha", v)
        store.put(io.BytesIO(data), fn)
        fn, data = make_sdist("alpha", v)
        store.put(io.BytesIO(data), fn)
    fn, data = make_sdist("Beta", "1.0")
    store.put(io.BytesIO(data), fn)
    assert len(store.ls()) == 5
    assert {f.filename for f in store.ls(project="ALPHA", version="2.0")} == {
        "alpha-2.0-py3-none-any.whl", "alpha-2.0.tar.gz"}
    assert [f.filename for f in store.ls(kind="sdist", project="beta")] == ["Beta-1.0.tar.gz"]


def test_rm_then_gc_removes_every_unshared_blob(store: Store) -> None:
    fn, data = make_wheel()
    store.put(io.BytesIO(data), fn)
    held = sorted(store.objects.keys())
    records = [k for k in held if store.get_blob(k).startswith(RECORD_MAGIC)]
    assert len(records) == 1  # the file record (docs/format.md): rm deletes it at once
    store.rm(fn)
    with pytest.raises(NotFound):
        store.info(fn)
    assert sorted(store.objects.keys()) == [k for k in held if k not in records]
    young = store.gc()  # default grace keeps the others
    assert young.removed == [] and young.kept_young == len(held) - 1
    report = store.gc(grace=-1)
    assert sorted(report.removed) == sorted(str(k) for k in held if k not in records)
    assert list(store.objects.keys()) == []
    assert fsck(store).ok


def test_gc_keeps_blob_held_by_another_owner(store: Store) -> None:
    fn, data = make_wheel()
    store.put(io.BytesIO(data), fn)
    pinned = store.put_blob(data, ref="keep:me")
    store.rm(fn)
    store.gc(grace=-1)
    assert store.get_blob(pinned) == data
    assert list(store.objects.keys()) == [pinned]


def test_put_blob_and_unpin(store: Store) -> None:
    d = store.put_blob(b"a build log", ref="log:1")
    assert store.get_blob(d) == b"a build log"
    assert store.gc(grace=-1).removed == []
    store.unpin("log:1")
    assert str(d) in store.gc(grace=-1).removed


def test_unknown_names_and_digests_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="nothing-1.0.tar.gz"):
        store.get("nothing-1.0.tar.gz")
    with pytest.raises(NotFound):
        store.open(Digest("0" * 64))
    with pytest.raises(InvalidDigest):
        Digest.parse("blake3:xyz")
    with pytest.raises(InvalidDigest, match="sha1"):
        Digest.parse("sha1:" + "a" * 64)


def test_stats_counts_raw_and_stored_bytes_per_project(store: Store) -> None:
    fn, data = make_wheel("big", "1.0", files={"big/data.txt": b"x" * 100_000})
    store.put(io.BytesIO(data), fn)
    fn2, data2 = make_sdist("small", "1.0")
    store.put(io.BytesIO(data2), fn2)
    s = store.stats()
    assert (s.files, s.sdists, s.wheels) == (2, 1, 1)
    assert s.raw_bytes == len(data) + len(data2)
    assert 0 < s.stored_bytes
    assert [p.project for p in s.projects] == ["big", "small"]
    assert s.projects[0].raw_bytes == len(data)


def test_fsck_on_healthy_store_reports_every_object_checked(store: Store) -> None:
    for i in range(3):
        fn, data = make_wheel("p", f"1.{i}")
        store.put(io.BytesIO(data), fn)
    r = fsck(store)
    assert r.ok
    assert r.objects_checked == len(list(store.objects.keys())) >= 3
    assert r.unreferenced == []


def test_export_writes_verified_file(store: Store, tmp_path: Path) -> None:
    fn, data = make_wheel()
    store.put(io.BytesIO(data), fn)
    out = tmp_path / "out"
    out.mkdir()
    store.export(fn, out)
    assert (out / fn).read_bytes() == data


def test_checksum_mismatch_names_file_expected_and_actual(disk_store: Store, tmp_path: Path) -> None:
    fn, data = make_wheel(files={"demo/x.py": bytes(range(256)) * 400})
    info = disk_store.put(io.BytesIO(data), fn)
    _corrupt_every_object(disk_store)
    with pytest.raises(ChecksumMismatch) as e:
        disk_store.get(fn)
    err = e.value
    assert fn in err.name  # the file, and for a recipe the blob inside it that failed
    assert err.expected.startswith("blake3:") and err.actual != err.expected
    assert info.size == len(data)
    # export leaves nothing behind on failure
    dest = tmp_path / "dest.whl"
    with pytest.raises(ChecksumMismatch):
        disk_store.export(fn, dest)
    assert not dest.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []
    report = fsck(disk_store)
    assert not report.ok
    assert fn in report.damaged_files


def _corrupt_every_object(store: Store) -> None:
    """Re-write each object as a valid zstd frame of different bytes (a silent corruption)."""
    from casstore.format import compress as _compress

    for key in list(store.objects.keys()):
        p = store.objects.path(key)  # type: ignore[attr-defined]
        original = _compress.decompress(p.read_bytes())
        flipped = bytes([original[0] ^ 0x01]) + original[1:]
        p.chmod(0o644)
        p.write_bytes(_compress.compress(flipped))


def _largest_object(store: Store) -> Path:
    """The largest blob holding file bytes (not the file's record, which reads do not need)."""
    paths = [store.objects.path(k) for k in store.objects.keys()  # type: ignore[attr-defined]
             if not store.get_blob(k).startswith(RECORD_MAGIC)]
    return max(paths, key=lambda p: p.stat().st_size)


def test_flipped_byte_in_blob_file_is_detected(disk_store: Store) -> None:
    fn, data = make_wheel(files={"demo/x.py": bytes(range(256)) * 400})
    disk_store.put(io.BytesIO(data), fn)
    p = _largest_object(disk_store)
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    p.chmod(0o644)
    p.write_bytes(bytes(raw))
    from casstore import CasstoreError

    with pytest.raises(CasstoreError) as e:
        disk_store.get(fn)
    assert fn in str(e.value) or p.name in str(e.value)
    r = fsck(disk_store)
    assert [d for d, _ in r.corrupt] == [f"blake3:{p.name}"]
    assert r.damaged_files == [fn]


def test_missing_blob_is_reported_by_fsck_and_read(disk_store: Store) -> None:
    fn, data = make_wheel(files={"demo/x.py": bytes(range(256)) * 400})
    disk_store.put(io.BytesIO(data), fn)
    p = _largest_object(disk_store)
    p.unlink()
    with pytest.raises(NotFound, match=fn):
        disk_store.get(fn)
    r = fsck(disk_store)
    assert r.missing == [f"blake3:{p.name}"]
    assert r.damaged_files == [fn]
