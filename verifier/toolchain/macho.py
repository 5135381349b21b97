"""The one place the verifier reads Mach-O files (through LIEF): what a macOS build's checks need to know.

`read_macho(path)` returns a `MachO`: the file type (`OBJECT`, `DYLIB`, `BUNDLE`, `EXECUTE`, ...), the header
flags (`NOUNDEFS`, `TWOLEVEL`, ...), LC_BUILD_VERSION's `minos` and `sdk` as "major.minor[.patch]", the
exported and the imported (undefined) symbol names, the imported ones that the loader looks up in every
loaded image (flat lookup, what `-undefined dynamic_lookup` makes), the install name and whether there is
an LC_CODE_SIGNATURE. A fat file is read for its first architecture only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lief

from ..errors import VerifierError

__all__ = ["FLAT_LOOKUP_ORDINAL", "MachO", "macos_version", "read_macho"]

FLAT_LOOKUP_ORDINAL = -2  # BIND_SPECIAL_DYLIB_FLAT_LOOKUP: the symbol is searched for in all loaded images


@dataclass(frozen=True)
class MachO:
    cpu: str  # "ARM64", "X86_64"
    file_type: str  # "OBJECT", "DYLIB", "BUNDLE", "EXECUTE", ...
    flags: frozenset[str]  # header flags: "NOUNDEFS", "DYLDLINK", "TWOLEVEL", ...
    minos: str | None  # LC_BUILD_VERSION
    sdk: str | None
    exported: frozenset[str]
    imported: frozenset[str]
    flat_lookup: frozenset[str]  # the imported symbols bound by flat lookup
    install_name: str | None  # LC_ID_DYLIB
    code_signature: bool  # LC_CODE_SIGNATURE present


def macos_version(parts: list[int]) -> str:
    """[15, 0, 0] -> "15.0", [10, 13, 1] -> "10.13.1": the spelling of a zig target's version suffix."""
    major, minor, patch = (list(parts) + [0, 0, 0])[:3]
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


def read_macho(path: Path) -> MachO:
    lief.logging.disable()
    fat = lief.MachO.parse(str(path))
    if fat is None or fat.size == 0:
        raise VerifierError(f"{str(path)!r} is not a Mach-O file")
    b = fat.at(0)
    if b is None:
        raise VerifierError(f"{str(path)!r} is not a Mach-O file")
    bv = b.build_version if b.has_build_version else None
    id_dylib = next((c for c in b.commands if isinstance(c, lief.MachO.DylibCommand)
                     and c.command == lief.MachO.LoadCommand.TYPE.ID_DYLIB), None)
    imported = list(b.imported_symbols)
    return MachO(
        cpu=str(b.header.cpu_type).rsplit(".", 1)[-1],
        file_type=str(b.header.file_type).rsplit(".", 1)[-1],
        flags=frozenset(str(f).rsplit(".", 1)[-1] for f in b.header.flags_list),
        minos=macos_version(list(bv.minos)) if bv is not None else None,
        sdk=macos_version(list(bv.sdk)) if bv is not None else None,
        exported=frozenset(str(s.name) for s in b.exported_symbols),
        imported=frozenset(str(s.name) for s in imported),
        flat_lookup=frozenset(str(s.name) for s in imported
                              if (bi := s.binding_info) is not None and bi.library_ordinal == FLAT_LOOKUP_ORDINAL),
        install_name=id_dylib.name if id_dylib is not None else None,
        code_signature=b.has_code_signature,
    )
