"""Why two wheels differ: member diff, normalization check, cause classification, diffoscope."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolMissing
from ..exec.command import run
from ..record import Explanation

__all__ = ["Member", "classify_content", "compare_wheels", "published_status", "read_members", "run_diffoscope"]

# Cause labels, as written into records.
EMBEDDED_PATHS = "embedded paths"
TIMESTAMPS = "timestamps"
ZIP_TIMESTAMPS = "zip timestamps"
FILE_ORDER = "file order"
RECORD_ORDER = "RECORD order"
ZIP_METADATA = "zip metadata (permissions, compression)"
BUILD_IDS = "build ids"
RANDOMNESS = "randomness"
UNEXPLAINED = "unexplained"

_TIME_RE = re.compile(
    rb"\d{1,2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{4}|\b1[5-9]\d{8}\b"
)


@dataclass(frozen=True)
class Member:
    name: str
    date_time: tuple[int, ...]
    compress_type: int
    external_attr: int
    sha256: str


def read_members(wheel: Path) -> list[Member]:
    with zipfile.ZipFile(wheel) as zf:
        return [
            Member(i.filename, tuple(i.date_time), i.compress_type, i.external_attr,
                   hashlib.sha256(zf.read(i)).hexdigest())
            for i in zf.infolist()
        ]


def _common_prefix(a: bytes, b: bytes, step: int = 4096) -> int:
    n, i = min(len(a), len(b)), 0
    while i < n and a[i : i + step] == b[i : i + step]:
        i += step
    while i < n and a[i] == b[i]:
        i += 1
    return min(i, n)


def _regions(a: bytes, b: bytes, context: int = 24, limit: int = 64, cap: int = 65536) -> list[tuple[bytes, bytes]]:
    """Differing stretches of two byte strings (with context): at most `limit` of them, each at most `cap`
    bytes. Linear time: equal chunks are skipped by slice comparison."""
    if len(a) != len(b):  # one stretch between the common prefix and the common suffix
        p = _common_prefix(a, b)
        s = _common_prefix(a[p:][::-1], b[p:][::-1])
        lo = max(0, p - context)
        return [(a[lo : min(len(a) - s + context, lo + cap)], b[lo : min(len(b) - s + context, lo + cap)])]
    out: list[tuple[bytes, bytes]] = []
    i, n = 0, len(a)
    while len(out) < limit:
        i += _common_prefix(a[i:], b[i:])
        if i >= n:
            break
        j = i
        while j < n and (a[j] != b[j] or a[j : j + 8] != b[j : j + 8]):
            j += 1
        out.append((a[max(0, i - context) : min(j + context, i + cap)], b[max(0, i - context) : min(j + context, i + cap)]))
        i = j
    return out


def _elf_differing_sections(a: bytes, b: bytes) -> list[str] | None:
    if not (a.startswith(b"\x7fELF") and b.startswith(b"\x7fELF")):
        return None
    try:
        from elftools.elf.elffile import ELFFile

        ea, eb = ELFFile(io.BytesIO(a)), ELFFile(io.BytesIO(b))
        sa = {s.name: s.data() for s in ea.iter_sections() if s.header["sh_type"] != "SHT_NOBITS"}
        sb = {s.name: s.data() for s in eb.iter_sections() if s.header["sh_type"] != "SHT_NOBITS"}
    except Exception:  # noqa: BLE001 -- a malformed ELF is classified from its bytes
        return None
    return sorted(n for n in sa.keys() | sb.keys() if sa.get(n) != sb.get(n))


# Paths a build may embed even after -ffile-prefix-map: the mapped roots and temporary directories.
_PATH_RE = re.compile(rb"/(build|zig-cache|tmp)/[\w./-]*|/tmp[\w]*/[\w./-]+")


def classify_content(a: bytes, b: bytes, roots: Sequence[bytes] = ()) -> list[str]:
    """Likely causes of the difference between two versions of one member."""
    causes: set[str] = set()
    if any(r and (r in a or r in b) for r in roots):
        causes.add(EMBEDDED_PATHS)
    sections = _elf_differing_sections(a, b)
    if sections is not None and sections and all("build-id" in s or "build_id" in s for s in sections):
        return [BUILD_IDS]
    for ra, rb in _regions(a, b, context=96):  # wide enough to reach back to the start of a path
        if _PATH_RE.search(ra) or _PATH_RE.search(rb):
            causes.add(EMBEDDED_PATHS)
        elif _TIME_RE.search(ra) or _TIME_RE.search(rb):
            causes.add(TIMESTAMPS)
        elif not any(r and (r in ra or r in rb) for r in roots):
            causes.add(RANDOMNESS if _looks_random(ra, rb) else UNEXPLAINED)
    if causes & {TIMESTAMPS, EMBEDDED_PATHS}:
        causes.discard(UNEXPLAINED)  # small shifts elsewhere (offsets, relocations) follow from the change
    return sorted(causes) or [UNEXPLAINED]


def _looks_random(ra: bytes, rb: bytes) -> bool:
    """Differing bytes that are not text: what random seeds, hash-table order and uninitialised memory give."""
    diff = bytes(x for x, y in zip(ra, rb) if x != y)
    return len(diff) >= 4


def compare_wheels(a: Path, b: Path, roots: Sequence[str] = (), *, classify: bool = True) -> Explanation:
    """Members only in one wheel, members that differ, and why; whether they are equal after normalization
    (zip timestamps and order, RECORD line order)."""
    ma, mb = read_members(a), read_members(b)
    da, db = {m.name: m for m in ma}, {m.name: m for m in mb}
    exp = Explanation(
        only_in_first=sorted(da.keys() - db.keys()),
        only_in_second=sorted(db.keys() - da.keys()),
    )
    causes: set[str] = set()
    common = [m.name for m in ma if m.name in db]
    if [n for n in common] != [m.name for m in mb if m.name in da]:
        causes.add(FILE_ORDER)
    root_bytes = [r.encode() for r in roots]
    normal_equal = not exp.only_in_first and not exp.only_in_second
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        for name in common:
            x, y = da[name], db[name]
            if x.date_time != y.date_time:
                causes.add(ZIP_TIMESTAMPS)
            if (x.compress_type, x.external_attr) != (y.compress_type, y.external_attr):
                causes.add(ZIP_METADATA)
                normal_equal = False
            if x.sha256 == y.sha256:
                continue
            ca, cb = za.read(name), zb.read(name)
            if name.endswith(".dist-info/RECORD") and sorted(ca.splitlines()) == sorted(cb.splitlines()):
                causes.add(RECORD_ORDER)
                continue
            exp.differing_members.append(name)
            if classify and not name.endswith(".dist-info/RECORD"):  # RECORD differs because members do
                causes.update(classify_content(ca, cb, root_bytes))
    exp.equal_after_normalization = normal_equal and not [
        n for n in exp.differing_members if not n.endswith(".dist-info/RECORD")
    ]
    exp.causes = sorted(causes)
    return exp


def published_status(rebuilt: Path, published: Path | None) -> str:
    """identical / equal-after-normalization / differs / none (DESIGN.md's second axis)."""
    if published is None:
        return "none"
    if rebuilt.read_bytes() == published.read_bytes():
        return "identical"
    return "equal-after-normalization" if compare_wheels(rebuilt, published, classify=False).equal_after_normalization else "differs"


def run_diffoscope(a: Path, b: Path, report: Path, *, timeout: float = 600) -> Path:
    """Write diffoscope's text report comparing `a` and `b` to `report`; ToolMissing if not installed."""
    exe = shutil.which("diffoscope")
    if exe is None:
        raise ToolMissing("diffoscope", "diffoscope-minimal")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(report.parent), "LC_ALL": "C.UTF-8", "TZ": "UTC"}
    report.parent.mkdir(parents=True, exist_ok=True)
    log = report.with_suffix(".log")
    run([exe, "--no-progress", "--text", str(report), str(a), str(b)], cwd=report.parent, env=env, log=log,
        timeout=timeout, memory=None)
    if not report.exists():
        report.write_text(f"diffoscope produced no report; see {log}\n")
    return report
