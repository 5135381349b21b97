"""Hostile archives given to the store: kept bit-exactly (the store never unpacks), never expanded
without bound; a file whose bytes are not the archive its name says is refused and nothing is stored."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casstore import Store, fsck
from casstore.errors import InvalidContent
from casstore.format.recipe import RecipeError, decode
from casstore.format.split import MAX_RATIO, NotSplittable, _inflate, inflate_limit
from casstore.index.projects import Index
from casstore.untrusted import MAX_HEADER, BoundedTarInfo, members

from . import hostile as h
from .conftest import ROOT, make_sdist, make_wheel


def _only_store_below(tmp_path: Path) -> None:
    """Nothing but the store directory was created: no member was unpacked anywhere."""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    names = {p.name for p in (tmp_path / "store").rglob("*")}
    assert not names & {"evil", "passwd", "zeros", "zeros.bin", "owned", "dev"}


def _round_trip(store: Store, data: bytes, filename: str) -> str:
    info = store.put(io.BytesIO(data), filename)
    assert store.get(filename) == data
    assert info.size == len(data)
    assert fsck(store).ok
    return info.layout


# -- traversal, links, devices: stored as bytes, never unpacked -------------------------------------

ZIP_CASES = {
    "dotdot": h.wheel_with(h.Entry(b"../../evil", b"x" * 100)),
    "absolute": h.wheel_with(h.Entry(b"/tmp/evil", b"x" * 100)),
    "windows": h.wheel_with(h.Entry(b"..\\..\\evil", b"x" * 100), h.Entry(b"C:\\evil", b"y" * 100)),
    "symlink": h.wheel_with(h.symlink_entry(b"demo/passwd", b"/etc/passwd"), h.Entry(b"demo/passwd/x", b"z")),
    "nul": h.wheel_with(h.Entry(b"demo/a\0../../evil", b"x" * 100)),
}
TAR_CASES = {
    "dotdot": h.targz(h.tar_member("../../evil", b"x" * 100)),
    "absolute": h.targz(h.tar_member("/tmp/evil", b"x" * 100)),
    "symlink": h.targz(h.tar_member("demo-1.0/passwd", kind=tarfile.SYMTYPE, link="/etc/passwd"),
                       h.tar_member("demo-1.0/passwd/owned", b"x" * 100)),
    "hardlink": h.targz(h.tar_member("demo-1.0/evil", kind=tarfile.LNKTYPE, link="../../etc/passwd")),
    "device": h.targz(h.tar_member("demo-1.0/dev", kind=tarfile.CHRTYPE, devmajor=1),
                      h.tar_member("demo-1.0/fifo", kind=tarfile.FIFOTYPE)),
}


@pytest.mark.parametrize("case", sorted(ZIP_CASES))
def test_zip_traversal_names_are_kept_as_bytes(tmp_path: Path, case: str) -> None:
    store = Store.directory(tmp_path / "store")
    _round_trip(store, ZIP_CASES[case], "demo-1.0-py3-none-any.whl")
    # The index reads METADATA from the stream, writing nothing.
    assert Index(store).core_metadata(store.info("demo-1.0-py3-none-any.whl")) is not None
    _only_store_below(tmp_path)


@pytest.mark.parametrize("case", sorted(TAR_CASES))
def test_tar_traversal_links_and_devices_are_kept_as_bytes(tmp_path: Path, case: str) -> None:
    store = Store.directory(tmp_path / "store")
    assert _round_trip(store, TAR_CASES[case], "demo-1.0.tar.gz") == "recipe"  # split, not refused
    _only_store_below(tmp_path)


# -- sizes: declared, bombs, nests ------------------------------------------------------------------

def test_member_declaring_2_to_the_40_bytes_is_stored_whole() -> None:
    data = h.wheel_with(h.Entry(b"demo/huge.bin", b"tiny", 8, usize=1 << 40, csize=1 << 40))
    assert _round_trip(Store.memory(), data, "demo-1.0-py3-none-any.whl") == "blob"


def test_tar_member_declaring_8_gib_in_a_small_gzip_is_kept() -> None:
    data = h.gzip_of_stream(h.ustar_header("demo-1.0/big", (8 << 30) - 1), b"\x03\x00")
    _round_trip(Store.memory(), data, "demo-1.0.tar.gz")


def test_inflate_stops_at_the_limit_on_an_endless_stream() -> None:
    """Work is bounded by the compressed size: an endless stream of zero blocks is abandoned once
    its output passes the limit, having read only what that output needs."""
    block, read = h.zero_block(), []

    def endless():  # type: ignore[no-untyped-def]
        while True:
            read.append(len(block))
            yield block

    limit = inflate_limit(1000 * len(block))  # as if the member were 1000 blocks long
    out = 0
    with pytest.raises(NotSplittable, match="inflates to more than"):
        for chunk in _inflate(endless(), limit):
            out += len(chunk)
    assert out <= limit
    assert sum(read) <= (limit // h.MIB + 2) * len(block)


CHILD = textwrap.dedent("""
    import io, json, resource, sys
    sys.path.insert(0, sys.argv[2])
    from tests import hostile as h
    from casstore import Store
    from casstore.index.projects import Index

    # A bounded temp file: the splitter may not unpack a bomb to disk either.
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 30, 2 << 30))

    def hwm():  # VmHWM: ru_maxrss would carry over the pytest parent's size through fork+exec
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    builders = {
        "zip_bomb_10g": (lambda: h.zip_bomb_wheel(10), "demo-1.0-py3-none-any.whl"),
        "nested_16x1g": (lambda: h.nested_bomb_wheel(16, 1), "demo-1.0-cp311-cp311-linux_x86_64.whl"),
        "targz_bomb_8g": (lambda: h.targz_bomb(8), "demo-1.0.tar.gz"),
    }
    store = Store.directory(sys.argv[1])
    out = {}
    for case, (build, filename) in builders.items():
        data = build()
        info = store.put(io.BytesIO(data), filename)
        same = store.get(filename) == data
        meta = Index(store).core_metadata(info) if info.kind == "wheel" else None
        blobs = [r["size"] for r in store.catalog.blobs()]
        out[case] = {"size": len(data), "layout": info.layout, "same": same, "max_blob": max(blobs),
                     "hwm_kib": hwm(), "metadata": meta is not None}
        del data
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_bombs_are_stored_bounded_in_memory_disk_and_blob_size(tmp_path: Path) -> None:
    """10 GiB of zeros in 10 MB of zip, a 42.zip-style nest of 16 GiB, an 8 GiB tar.gz:
    each is stored and read back bit-exactly, by a process whose peak RSS stays small, that may not
    write a file over 2 GiB, and no blob holds more than the bound on inflated bytes."""
    r = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "store"), str(ROOT)], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(r.stdout)
    print(json.dumps(results, indent=1))
    for case, got in results.items():
        assert got["same"], case
        assert got["max_blob"] <= inflate_limit(got["size"], 16 << 20), case
        assert got["hwm_kib"] < 200 * 1024, f"{case}: peak RSS {got['hwm_kib'] // 1024} MiB"
    assert results["zip_bomb_10g"]["metadata"]  # the wheel is still a wheel: its METADATA is served


def test_ratio_bound_is_far_above_real_archives(real_files: list[Path]) -> None:
    """The bound never bites on real files: no real member or sdist inflates anywhere near it."""
    import gzip
    import zipfile

    worst = 0.0
    for p in real_files:
        if p.name.endswith(".tar.gz"):
            size, usize = p.stat().st_size, len(gzip.decompress(p.read_bytes()))
            assert usize <= inflate_limit(size, 0), p.name
            worst = max(worst, usize / size)
        else:
            with zipfile.ZipFile(p) as zf:
                for zi in zf.infolist():
                    if zi.compress_type == zipfile.ZIP_DEFLATED and zi.compress_size > 4096:
                        assert zi.file_size <= inflate_limit(zi.compress_size, 0), (p.name, zi.filename)
                        worst = max(worst, zi.file_size / zi.compress_size)
    assert worst < MAX_RATIO / 4, worst


# -- tar headers: bounded reads -----------------------------------------------------------------------

def test_oversized_pax_header_is_refused_before_it_is_read() -> None:
    tar = h.tar_bytes(h.tar_member("demo-1.0/" + "a" * 200, b"x"))  # a real pax header: fine
    with tarfile.open(fileobj=io.BytesIO(tar), tarinfo=BoundedTarInfo) as tf:
        assert [m.name for m in members(tf, 10)] == ["demo-1.0/" + "a" * 200]
    bomb = h.ustar_header("././@PaxHeader", MAX_HEADER + 1, tarfile.XHDTYPE) + b"\0" * (MAX_HEADER + 1024)
    with pytest.raises(tarfile.ReadError, match="extended header"), \
            tarfile.open(fileobj=io.BytesIO(bomb), tarinfo=BoundedTarInfo) as tf:
        list(members(tf, 10))


def test_members_are_counted_and_not_kept() -> None:
    tar = h.tar_bytes(*(h.tar_member(f"demo-1.0/f{i}", b"x") for i in range(5)))
    with tarfile.open(fileobj=io.BytesIO(tar), tarinfo=BoundedTarInfo) as tf:
        assert len(list(members(tf, 5))) == 5
        assert tf.members == []
    with pytest.raises(tarfile.ReadError, match="more than 4 members"), \
            tarfile.open(fileobj=io.BytesIO(tar), tarinfo=BoundedTarInfo) as tf:
        list(members(tf, 4))


# -- duplicates, overlaps, truncation -----------------------------------------------------------------

def test_duplicate_member_names_are_kept() -> None:
    zdup = h.wheel_with(h.Entry(b"demo/a.py", b"A = 1\n" * 20), h.Entry(b"demo/a.py", b"A = 2\n" * 20))
    _round_trip(Store.memory(), zdup, "demo-1.0-py3-none-any.whl")
    tdup = h.targz(h.tar_member("demo-1.0/a.py", b"A = 1\n" * 20), h.tar_member("demo-1.0/a.py", b"A = 2\n" * 20))
    assert _round_trip(Store.memory(), tdup, "demo-1.0.tar.gz") == "recipe"


def test_overlapping_zip_entries_are_kept() -> None:
    entries = [h.Entry(b"demo/a.py", h.deflated(b"A = 1\n" * 500), 8, 3000, crc=0),
               h.Entry(b"demo/b.py", b"B = 2\n" * 100)]
    same_header_twice = h.raw_zip(entries, central=[(0, 0), (0, 0), (1, 0)])
    into_the_middle = h.raw_zip(entries, central=[(0, 0), (1, 0), (0, 40)])  # a header inside member data
    for data in (same_header_twice, into_the_middle):
        _round_trip(Store.memory(), data, "demo-1.0-py3-none-any.whl")


def test_truncated_archives_are_stored_whole() -> None:
    fn, wheel = make_wheel("demo", "1.0", files={"demo/a.py": b"A = 1\n" * 1000})
    sfn, sdist = make_sdist("demo", "1.0", payload=b"print(1)\n" * 1000)
    for cut in (5, len(wheel) // 2, len(wheel) - 10):
        assert _round_trip(Store.memory(), wheel[:cut], fn) == "blob"
    for cut in (3, len(sdist) // 2, len(sdist) - 4):
        assert _round_trip(Store.memory(), sdist[:cut], sfn) == "blob"


# -- bytes that are not what the name says: refused, nothing stored -----------------------------------

@pytest.mark.parametrize(("filename", "data", "reason"), [
    ("demo-1.0-py3-none-any.whl", b"", "not a zip archive"),
    ("demo-1.0-py3-none-any.whl", b"<html>404 Not Found</html>", "not a zip archive"),
    ("demo-1.0-py3-none-any.whl", make_sdist()[1], "not a zip archive"),
    ("demo-1.0-py3-none-any.whl", b"PK\x05\x06" + b"\0" * 18, "not a zip archive"),  # an empty zip
    ("demo-1.0.zip", b"Rar!\x1a\x07\x00", "not a zip archive"),
    ("demo-1.0.tar.gz", h.tar_bytes(h.tar_member("demo-1.0/setup.py", b"x")), "not gzip"),
    ("demo-1.0.tar.gz", make_wheel()[1], "not gzip"),
    ("demo-1.0.tar.gz", b"BZh91AY&SY", "not gzip"),
])
def test_content_that_contradicts_the_name_is_refused(tmp_path: Path, filename: str, data: bytes,
                                                      reason: str) -> None:
    store = Store.directory(tmp_path / "store")
    with pytest.raises(InvalidContent, match=reason) as e:
        store.put(io.BytesIO(data), filename)
    assert repr(filename) in str(e.value)
    assert store.ls() == [] and list(store.objects.keys()) == []


# -- METADATA (PEP 658) of hostile wheels: no metadata, never an error page ---------------------------

META_CASES = {
    # declared 40 bytes, inflates to 64 MiB: zipfile stops at the declared size, the CRC check fails
    "metadata_bomb": h.raw_zip([h.Entry(b"demo-1.0.dist-info/METADATA", h.zero_blocks(64), 8, 40, crc=0)]),
    "metadata_declared_huge": h.raw_zip([h.Entry(b"demo-1.0.dist-info/METADATA", b"x" * 100, 0, usize=1 << 40)]),
    "name_not_utf8": h.raw_zip([h.Entry(b"demo-1.0.dist-info/\x80\xff", b"x", flags=0x800),
                                h.Entry(b"demo-1.0.dist-info/METADATA", h.METADATA)]),
    "encrypted": h.raw_zip([h.Entry(b"demo-1.0.dist-info/METADATA", h.METADATA, flags=1)]),
    "unknown_method": h.raw_zip([h.Entry(b"demo-1.0.dist-info/METADATA", h.METADATA, method=99)]),
    "duplicate_metadata": h.raw_zip([h.Entry(b"demo-1.0.dist-info/METADATA", h.METADATA),
                                     h.Entry(b"demo-1.0.dist-info/METADATA", h.METADATA + b"Requires-Dist: evil\n")]),
    "truncated": h.wheel_with()[:-30],
}


@pytest.mark.parametrize("case", sorted(META_CASES))
def test_hostile_wheels_get_no_metadata_and_their_page_still_renders(case: str) -> None:
    from casstore.index.pages import project_json

    store = Store.memory()
    info = store.put(io.BytesIO(META_CASES[case]), "demo-1.0-py3-none-any.whl")
    index = Index(store)
    assert index.core_metadata(info) is None
    page = index.project_page("demo")
    assert page is not None
    doc = json.loads(project_json(page))
    assert doc["files"][0].get("core-metadata", False) is False


def test_recipe_with_a_non_utf8_engine_name_is_a_recipe_error() -> None:
    """Found by benchmarks/fuzz_archives.py: decode raised UnicodeDecodeError."""
    with pytest.raises(RecipeError, match="UTF-8"):
        decode(b"CASR\x01\x02\x8d\x8d\x00\x00")


# -- property: any damage to a real archive is stored bit-exactly or refused by its magic -------------

_, WHEEL = make_wheel("demo", "1.0", files={"demo/a.py": b"A = 1\n" * 300, "demo/b.py": b"B = 2\n" * 300})
_, SDIST = make_sdist("demo", "1.0", payload=b"print('hi')\n" * 300)


@given(which=st.sampled_from(["wheel", "sdist"]), cut=st.integers(0, 4000),
       flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(1, 255)), max_size=4),
       splice=st.binary(max_size=64))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_damaged_archives_round_trip_or_are_refused(which: str, cut: int, flips: list[tuple[int, int]],
                                                    splice: bytes) -> None:
    data = bytearray(WHEEL if which == "wheel" else SDIST)
    for pos, x in flips:
        if pos < len(data):
            data[pos] ^= x
    data = data[: len(data) - cut % max(len(data), 1)] + splice
    fn = "demo-1.0-py3-none-any.whl" if which == "wheel" else "demo-1.0.tar.gz"
    store = Store.memory()
    try:
        store.put(io.BytesIO(bytes(data)), fn)
    except InvalidContent:
        assert not bytes(data).startswith(b"PK\x03\x04" if which == "wheel" else b"\x1f\x8b")
        return
    assert store.get(fn) == bytes(data)
    Index(store).core_metadata(store.info(fn))  # None or metadata, never an exception


def test_hostile_metadata_values_are_escaped_in_pages() -> None:
    from casstore.index.pages import project_html, project_json

    meta = b'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Python: "><script>alert(1)</script>\n'
    store = Store.memory()
    store.put(io.BytesIO(h.raw_zip([h.Entry(b"demo-1.0.dist-info/METADATA", meta)])), "demo-1.0-py3-none-any.whl")
    page = Index(store).project_page("demo")
    assert page is not None
    assert "<script>" not in project_html(page) and "&lt;script&gt;" in project_html(page)
    assert json.loads(project_json(page))["files"][0]["requires-python"] == '"><script>alert(1)</script>'
