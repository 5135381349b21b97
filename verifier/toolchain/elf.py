"""ELF fix-ups after linking. Zig links musl extension modules against `libc.so`; on the target (Alpine,
and what auditwheel's musllinux policy knows) musl's libc is `libc.musl-<arch>.so.1`. The dependency is
renamed with Debian's `patchelf --replace-needed`, which is deterministic (same input, same output bytes)."""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.segments import InterpSegment

from ..errors import ToolMissing, VerifierError
from ..exec.command import run

__all__ = ["fix_musl_needed", "interpreter", "needed"]

ZIG_MUSL_LIBC = "libc.so"


def needed(data: bytes) -> list[str]:
    """The DT_NEEDED entries of an ELF file, in order; [] for anything that is not a dynamic ELF file."""
    try:
        elf = ELFFile(io.BytesIO(data))
        return [t.needed for s in elf.iter_sections() if isinstance(s, DynamicSection)  # type: ignore[attr-defined]
                for t in s.iter_tags() if t.entry.d_tag == "DT_NEEDED"]  # (.needed is set per DT_NEEDED tag)
    except ELFError:
        return []


def interpreter(data: bytes) -> str:
    """The PT_INTERP path (the dynamic loader) of an ELF executable; VerifierError if it names none."""
    try:
        for seg in ELFFile(io.BytesIO(data)).iter_segments():
            if isinstance(seg, InterpSegment):
                return str(seg.get_interp_name())
    except ELFError as e:
        raise VerifierError(f"not an ELF executable: {e}") from None
    raise VerifierError("ELF executable names no interpreter (PT_INTERP)")


def fix_musl_needed(wheel: Path, libc: str, *, log: Path) -> dict[str, bytes]:
    """New bytes for every ELF member of `wheel` that needs zig's `libc.so`, now needing `libc` instead."""
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory(dir=wheel.parent) as tmp:
        for info in zf.infolist():
            if not (info.filename.endswith(".so") or ".so." in info.filename):
                continue
            data = zf.read(info)
            if ZIG_MUSL_LIBC not in needed(data):
                continue
            exe = shutil.which("patchelf")
            if exe is None:
                raise ToolMissing("patchelf", "patchelf")
            path = Path(tmp) / "member.so"
            path.write_bytes(data)
            r = run([exe, "--replace-needed", ZIG_MUSL_LIBC, libc, str(path)], cwd=Path(tmp),
                    env={"PATH": "/usr/bin:/bin"}, log=log, timeout=120)
            if not r.ok:
                raise VerifierError(f"patchelf failed on {info.filename!r} (log: {log})")
            fixed = path.read_bytes()
            if libc not in needed(fixed):
                raise VerifierError(f"{info.filename!r} still does not need {libc!r} after patchelf")
            out[info.filename] = fixed
    return out
