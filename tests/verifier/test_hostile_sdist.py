"""Unpacking untrusted sdists: a clear InvalidSdist, nothing written outside the destination, bounded
memory; the checks are our own and strict, tarfile's ``data`` filter runs as well."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from tests import hostile as h
from verifier import InvalidSdist
from verifier.build.sdist import MAX_UNPACKED, extract_sdist, sdist_epoch

REPO = Path(__file__).resolve().parents[2]

GOOD = [h.tar_member("demo-1.0/setup.py", b"print(1)\n"), h.tar_member("demo-1.0/docs", kind=tarfile.DIRTYPE)]

TAR_CASES = {
    "dotdot": ([h.tar_member("demo-1.0/../../evil", b"x")], "escapes"),
    "absolute": ([h.tar_member("/tmp/evil", b"x")], "escapes"),
    "symlink_absolute": ([h.tar_member("demo-1.0/passwd", kind=tarfile.SYMTYPE, link="/etc/passwd")], "escapes"),
    "symlink_dotdot": ([h.tar_member("demo-1.0/up", kind=tarfile.SYMTYPE, link="../../..")], "escapes"),
    "file_below_symlink": ([h.tar_member("demo-1.0/out", kind=tarfile.SYMTYPE, link="docs"),
                            h.tar_member("demo-1.0/out/evil", b"x")], "passes through the symlink"),
    # A chain: each link points inside by itself, together they leave (CVE-2025-4517's shape).
    "symlink_chain": ([h.tar_member("demo-1.0/a", kind=tarfile.SYMTYPE, link="docs"),
                       h.tar_member("demo-1.0/b", kind=tarfile.SYMTYPE, link="a/../../../evil")],
                      "passes through the symlink"),
    "symlink_defined_later": ([h.tar_member("demo-1.0/b", kind=tarfile.SYMTYPE, link="a/x"),
                               h.tar_member("demo-1.0/a", kind=tarfile.SYMTYPE, link="docs")],
                              "passes through the symlink"),
    "hardlink_absolute": ([h.tar_member("demo-1.0/pw", kind=tarfile.LNKTYPE, link="/etc/passwd")], "escapes"),
    "hardlink_dotdot": ([h.tar_member("demo-1.0/pw", kind=tarfile.LNKTYPE, link="../etc/passwd")], "escapes"),
    "hardlink_through_symlink": ([h.tar_member("demo-1.0/s", kind=tarfile.SYMTYPE, link="docs"),
                                  h.tar_member("demo-1.0/pw", kind=tarfile.LNKTYPE, link="demo-1.0/s/x")],
                                 "passes through the symlink"),
    "char_device": ([h.tar_member("demo-1.0/null", kind=tarfile.CHRTYPE, devmajor=1)], "device or fifo"),
    "block_device": ([h.tar_member("demo-1.0/sda", kind=tarfile.BLKTYPE, devmajor=8)], "device or fifo"),
    "fifo": ([h.tar_member("demo-1.0/fifo", kind=tarfile.FIFOTYPE)], "device or fifo"),
    "duplicate": ([h.tar_member("demo-1.0/setup.py", b"print(2)\n")], "duplicate member"),
    "long_name": ([h.tar_member("demo-1.0/" + "a/" * 2100 + "x", b"x")], "longer than 4096"),
}


@pytest.mark.parametrize("case", sorted(TAR_CASES))
def test_hostile_tar_sdists_are_refused_before_writing(tmp_path: Path, case: str) -> None:
    members, reason = TAR_CASES[case]
    (tmp_path / "sentinel").mkdir()
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(h.targz(*GOOD, *members))
    with pytest.raises(InvalidSdist, match=reason) as e:
        extract_sdist(sdist, tmp_path / "out" / "src")
    assert str(sdist) in str(e.value)
    # refused while listing: not even the destination was made
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([sdist.name, "sentinel"]), case
    assert not any((tmp_path / "sentinel").iterdir())


ZIP_CASES = {
    "dotdot": ([h.Entry(b"demo-1.0/../../evil", b"x")], "escapes"),
    "absolute": ([h.Entry(b"/tmp/evil", b"x")], "escapes"),
    "duplicate": ([h.Entry(b"demo-1.0/setup.py", b"print(2)\n")], "duplicate member"),
    "empty_name": ([h.Entry(b"", b"x")], "empty name"),
    "encrypted": ([h.Entry(b"demo-1.0/secret.py", b"x" * 20, flags=1)], "encrypted"),
    "bomb_declared": ([h.Entry(f"demo-1.0/z{i}".encode(), h.zero_blocks(1), 8, usize=1 << 30, crc=0)
                       for i in range(3)], "more than 2 GiB"),
    "bomb_lying": ([h.Entry(b"demo-1.0/z", h.zero_blocks(64), 8, usize=10, crc=0)], "CRC|Bad"),
}


@pytest.mark.parametrize("case", sorted(ZIP_CASES))
def test_hostile_zip_sdists_are_refused(tmp_path: Path, case: str) -> None:
    entries, reason = ZIP_CASES[case]
    (tmp_path / "sentinel").mkdir()
    sdist = tmp_path / "demo-1.0.zip"
    sdist.write_bytes(h.raw_zip([h.Entry(b"demo-1.0/setup.py", b"print(1)\n"), *entries]))
    with pytest.raises(InvalidSdist, match=reason):
        extract_sdist(sdist, tmp_path / "out" / "src")
    # whatever was unpacked before the error is inside the destination
    assert {p.name for p in tmp_path.iterdir()} <= {sdist.name, "sentinel", "out"}
    assert not any((tmp_path / "sentinel").iterdir())
    out = tmp_path / "out"
    assert not out.exists() or {p.name for p in out.iterdir()} <= {"src"}


def test_zip_symlink_entries_are_written_as_plain_files(tmp_path: Path) -> None:
    sdist = tmp_path / "demo-1.0.zip"
    sdist.write_bytes(h.raw_zip([h.Entry(b"demo-1.0/setup.py", b"print(1)\n"),
                                 h.symlink_entry(b"demo-1.0/passwd", b"/etc/passwd")]))
    src = extract_sdist(sdist, tmp_path / "out")
    assert not (src / "passwd").is_symlink() and (src / "passwd").read_bytes() == b"/etc/passwd"


def test_inside_links_still_work(tmp_path: Path) -> None:
    """Strict, not paranoid: links that stay inside and do not pass through other links are kept."""
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(h.targz(*GOOD, h.tar_member("demo-1.0/docs/LICENSE", kind=tarfile.SYMTYPE, link="../setup.py"),
                              h.tar_member("demo-1.0/copy.py", kind=tarfile.LNKTYPE, link="demo-1.0/setup.py")))
    src = extract_sdist(sdist, tmp_path / "out")
    assert (src / "docs" / "LICENSE").read_bytes() == b"print(1)\n"
    assert (src / "copy.py").read_bytes() == b"print(1)\n"


_FULL = h.targz(*GOOD, h.tar_member("demo-1.0/big", bytes(range(256)) * 40))


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file"),
    (b"<html>not found</html>", "could not be opened"),
    (_FULL[: len(_FULL) // 2], "Compressed file ended|unexpected end"),
    (h.zero_blocks(1), "could not be opened"),  # raw deflate, no gzip header
    (h.targz_bomb(3), "more than 2 GiB"),  # 3 GiB member in 3 MB of gzip
], ids=["empty", "html", "truncated", "raw_deflate", "bomb_3g"])
def test_damaged_and_oversized_tar_gz_are_invalid_sdists(tmp_path: Path, data: bytes, reason: str) -> None:
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(data)
    with pytest.raises(InvalidSdist, match=reason):
        extract_sdist(sdist, tmp_path / "out")
    with pytest.raises(InvalidSdist):
        sdist_epoch(sdist)
    assert MAX_UNPACKED == 2 << 30


def test_gnu_sparse_is_refused(tmp_path: Path) -> None:
    sparse = tarfile.TarInfo("demo-1.0/sparse")
    sparse.type = tarfile.GNUTYPE_SPARSE
    raw = sparse.tobuf(tarfile.GNU_FORMAT) + b"\0" * 1024
    import gzip

    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(gzip.compress(raw))
    with pytest.raises(InvalidSdist, match="sparse"):
        extract_sdist(sdist, tmp_path / "out")


CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[2])
    from pathlib import Path
    from tests import hostile as h
    from verifier import InvalidSdist
    from verifier.build.sdist import extract_sdist

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    tmp = Path(sys.argv[1])
    sdist = tmp / "demo-1.0.tar.gz"
    sdist.write_bytes(h.pax_header_bomb(1024))  # 1 GiB pax header, 1 MB of gzip
    try:
        extract_sdist(sdist, tmp / "out")
        error = None
    except InvalidSdist as e:
        error = str(e)
    print(json.dumps({"error": error, "hwm_kib": hwm()}))
""")


@pytest.mark.slow
def test_pax_header_bomb_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    """tarfile alone reads a pax header with one read() of its declared size: 1 GiB here."""
    r = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), str(REPO)], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout)
    assert got["error"] and "extended header" in got["error"]
    assert got["hwm_kib"] < 150 * 1024, got
