"""A rebuilt wheel's extension modules against the published wheel's, by structure (issue 16).

For targets this host cannot run (macOS, Windows on arm64) the only check of a rebuild is structural: are
its binaries the same kind of thing as the ones PyPI publishes for the same version and tags? Every parse
goes through LIEF (ELF, PE, Mach-O, fat Mach-O); nothing here reads a binary format by hand.

`describe(binary, name)` reduces one binary to a `Binary`: format ("ELF", "PE", "MachO"), arch (normalized:
"x86_64", "aarch64", "i686", "armv7", "ppc64le", "s390x", "riscv64"), kind ("bundle", "dylib", "dll",
"shared-object", "executable", ...), the module-init exports (`PyInit_*`), the libraries it loads (DT_NEEDED;
PE imports and delay imports, lower-cased; Mach-O LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB,
LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB — never the LC_ID_DYLIB a dylib names itself with), the undefined
symbols it imports, the Mach-O minimum OS version (LC_BUILD_VERSION minos, else LC_VERSION_MIN_MACOSX), whether
it is signed (Mach-O LC_CODE_SIGNATURE; PE an Authenticode signature; ELF never) and the Mach-O header flags.
Mach-O names lose their one leading underscore (`_PyInit_x` → `PyInit_x`).

Fat (universal) Mach-O files hold one slice per arch; `describe_slices` gives them all and `describe` one
(the slice of `arch`, else the first). A wheel's platform tag says which slices matter: `macosx_11_0_arm64`
→ aarch64, `macosx_10_9_x86_64` → x86_64, `universal2` → both. A thin rebuilt binary is compared with the
published binary's slice of the arch its tag names (so a thin arm64 rebuild meets the arm64 slice of a
published universal2 wheel, the code pip would install on arm64; x86_64 code in an arm64-tagged wheel meets
that arm64 slice too, and fails); a fat rebuilt binary is compared slice by slice, for each arch its tag
names, and the module of each check then carries the arch: `markupsafe._speedups[aarch64]`. A published
file without the wanted slice is compared by its first slice, and the arch check says so.

`compare_wheels(rebuilt, published)` pairs extension modules by dotted name without their suffix
(`markupsafe/_speedups.cp311-win_amd64.pyd`, `foo/_x.cpython-311-darwin.so`, `foo/_x.abi3.so` → `foo._x`;
vendored libraries in `pkg.libs/` or `.dylibs/` are not modules) and runs, for each pair:

- format: the same binary format.
- arch: the same arch, and the one the rebuilt wheel's tag names.
- kind: the same kind; a Mach-O dylib and bundle count as the same (CPython loads either with dlopen, and
  zig, which has no `-bundle`, links every macOS extension as MH_DYLIB), the difference kept as detail.
- exports: the same `PyInit_*` names.
- libraries (PE, Mach-O): every library the rebuild loads is in `ALLOWED_LIBRARIES` for its format — what
  CPython and the OS provide. msvcrt.dll is not: it is the wrong C runtime for CPython 3.5+ (UCRT), and a
  mingw-w64 build linked against it mixes two CRTs in one process. Libraries only the published binary loads
  are detail, not a failure. ELF libraries are auditwheel's business (manylinux policy), not checked here.
- min_os (Mach-O): the rebuild's minimum macOS is at most its wheel tag's version — or 11.0 for arm64
  slices, as arm64 macOS starts at 11.0 and ld64 writes minos 11.0 into the arm64 slice of a
  `macosx_10_9_universal2` wheel. The published binary's minimum is detail.
- signed (arm64 Mach-O): arm64 macOS refuses to map unsigned code; an ad-hoc signature (what ld64 and zig
  write) is enough.

MH_NOUNDEFS is reported in `Binary.flags` but is not a check. The published macOS wheels of markupsafe 2.1.5
(ld64, two-level namespace, `-undefined dynamic_lookup`) carry NOUNDEFS together with undefined CPython
symbols, in both slices of universal2, and they are what pip installs on every Mac: "NOUNDEFS set while
symbols are undefined" is what a working ld64-linked extension looks like, so failing it would fail the
published wheel against itself. zig's linker does not set the flag.

A module only the published wheel has is a failing "present" check; one only the rebuilt wheel has a
passing one, with detail. `StructureReport.summary` is one line; `to_dict`/`from_dict` give and read back
plain JSON types. `describe` and `compare_binaries` are pure; `compare_wheels` reads the two zip files.
"""

from __future__ import annotations

import fnmatch
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lief

from ..build.wheel import parse_wheel_name
from ..errors import InvalidBinary, VerifierError

__all__ = [
    "ALLOWED_LIBRARIES",
    "Binary",
    "Check",
    "StructureReport",
    "compare_binaries",
    "compare_slices",
    "compare_wheels",
    "describe",
    "describe_slices",
    "extension_members",
    "tag_arches",
]

lief.logging.disable()  # LIEF logs parse warnings to stderr; a bad file is an InvalidBinary here instead

# What a rebuilt extension may load, per format: fnmatch patterns, matched case-sensitively on the names as
# `Binary.libraries` has them (PE lower-cased). Windows: CPython's DLLs (python3.dll for abi3), kernel32 and
# the UCRT (its api sets and ucrtbase), the MSVC runtime that MSVC-built extensions use (zig's mingw-w64
# builds use none); not msvcrt.dll. macOS: libSystem, libc++ and the system frameworks.
ALLOWED_LIBRARIES: Mapping[str, tuple[str, ...]] = {
    "PE": (
        "python3.dll",
        "python3[0-9][0-9].dll",
        "python3[0-9][0-9]t.dll",
        "kernel32.dll",
        "api-ms-win-crt-*.dll",
        "ucrtbase.dll",
        "vcruntime140*.dll",
    ),
    "MachO": (
        "/usr/lib/libSystem.B.dylib",
        "/usr/lib/libc++.1.dylib",
        "/System/Library/Frameworks/*.framework/*",
    ),
}

INIT_PREFIX = "PyInit_"
MACOS_ARM64_FIRST = (11, 0)  # the first macOS on arm64

# Architectures as LIEF names them, normalized (Python's platform.machine() on Linux / zig's names).
_ELF_ARCH = {"X86_64": "x86_64", "AARCH64": "aarch64", "I386": "i686", "ARM": "armv7", "S390": "s390x",
             "RISCV": "riscv64", "PPC": "ppc", "LOONGARCH": "loongarch64"}
_PE_ARCH = {"AMD64": "x86_64", "ARM64": "aarch64", "I386": "i686", "ARMNT": "armv7", "ARM64EC": "arm64ec"}
_MACHO_ARCH = {"X86_64": "x86_64", "ARM64": "aarch64", "X86": "i686", "POWERPC": "ppc", "POWERPC64": "ppc64"}
_MACHO_KIND = {"BUNDLE": "bundle", "DYLIB": "dylib", "EXECUTE": "executable", "OBJECT": "object"}
_ELF_KIND = {"DYN": "shared-object", "EXEC": "executable", "REL": "object", "CORE": "core"}
_LOADS = {"LOAD_DYLIB", "LOAD_WEAK_DYLIB", "REEXPORT_DYLIB", "LAZY_LOAD_DYLIB", "LOAD_UPWARD_DYLIB"}

# macOS wheel-tag arches → the slices they name.
_TAG_ARCHES = {
    "x86_64": ("x86_64",), "arm64": ("aarch64",), "i386": ("i686",),
    "universal2": ("x86_64", "aarch64"), "intel": ("i686", "x86_64"), "fat64": ("x86_64", "ppc64"),
    "universal": ("i686", "x86_64", "ppc", "ppc64"),
}
_MACOS_TAG = re.compile(r"macosx_(\d+)_(\d+)_(\w+)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Binary:
    """What matters in one binary (one slice of a fat Mach-O). `slices`: the arches of the fat file this
    slice came from, () for a thin file."""

    name: str
    format: str
    arch: str
    kind: str
    exports: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    imported_symbols: tuple[str, ...] = ()
    min_os: str | None = None
    signed: bool = False
    flags: tuple[str, ...] = ()
    slices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    module: str
    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class StructureReport:
    rebuilt: str
    published: str
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    @property
    def summary(self) -> str:
        """One line: 'structure matches the published wheel: 7 checks on 1 module', or 'structure differs:'
        and the failing checks ('arch x86_64 vs aarch64 in markupsafe._speedups')."""
        if not self.checks:
            return "no extension modules in either wheel"
        bad = self.failures
        if not bad:
            modules = {c.module.split("[")[0] for c in self.checks}  # the slices of a fat binary are one module
            n, m = len(self.checks), len(modules)
            return (f"structure matches the published wheel: {n} check{'s' * (n != 1)} "
                    f"on {m} module{'s' * (m != 1)}")
        shown = "; ".join(f"{c.name} {c.detail} in {c.module}" for c in bad[:3])
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        return f"structure differs: {shown}{more}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rebuilt": self.rebuilt,
            "published": self.published,
            "ok": self.ok,
            "summary": self.summary,
            "checks": [{"module": c.module, "name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StructureReport:
        """Read back what `to_dict` wrote (`ok` and `summary` are derived, so not read)."""
        try:
            checks = tuple(Check(_str(c["module"]), _str(c["name"]), _bool(c["ok"]), _str(c["detail"]))
                           for c in data["checks"])
            return cls(_str(data["rebuilt"]), _str(data["published"]), checks)
        except (KeyError, TypeError, ValueError) as e:
            raise VerifierError(f"invalid structure report: {data!r}") from e


def _str(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError(f"not a string: {v!r}")
    return v


def _bool(v: object) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"not a bool: {v!r}")
    return v


# -- describing one binary (pure) --------------------------------------------------------------------------

def _text(name: str | bytes) -> str:
    """A symbol or library name as LIEF gives it (bytes when it is not UTF-8)."""
    return name if isinstance(name, str) else name.decode("utf-8", "backslashreplace")


def _unprefix(name: str | bytes) -> str:
    return _text(name).removeprefix("_")


def _version(parts: Sequence[int]) -> str:
    major, minor, patch = (list(parts) + [0, 0, 0])[:3]
    return f"{major}.{minor}.{patch}" if patch else f"{major}.{minor}"


def _sorted(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({n for n in names if n}))


def _macho_arch(b: lief.MachO.Binary) -> str:
    cpu = b.header.cpu_type.name
    return _MACHO_ARCH.get(cpu, cpu.lower())


def _macho(b: lief.MachO.Binary, name: str, slices: tuple[str, ...]) -> Binary:
    h = b.header
    exported = [_unprefix(s.name) for s in b.exported_symbols]
    build, version_min = b.build_version, b.version_min
    if build is not None:
        min_os: str | None = _version(build.minos)
    elif version_min is not None:
        min_os = _version(version_min.version)
    else:
        min_os = None
    return Binary(
        name=name,
        format="MachO",
        arch=_macho_arch(b),
        kind=_MACHO_KIND.get(h.file_type.name, h.file_type.name.lower()),
        exports=_sorted(n for n in exported if n.startswith(INIT_PREFIX)),
        libraries=tuple(_text(lib.name) for lib in b.libraries if lib.command.name in _LOADS),
        imported_symbols=_sorted(_unprefix(s.name) for s in b.imported_symbols),
        min_os=min_os,
        signed=bool(b.has_code_signature),
        flags=tuple(str(f.name) for f in h.flags_list),
        slices=slices,
    )


def _pe(b: lief.PE.Binary, name: str) -> Binary:
    machine = b.header.machine.name
    imports = [*b.imports, *b.delay_imports]
    export = b.get_export()
    exports = [_text(e.name) for e in export.entries] if export is not None else []
    is_dll = b.header.has_characteristic(lief.PE.Header.CHARACTERISTICS.DLL)
    return Binary(
        name=name,
        format="PE",
        arch=_PE_ARCH.get(machine, machine.lower()),
        kind="dll" if is_dll else "executable",
        exports=_sorted(n for n in exports if n.startswith(INIT_PREFIX)),
        libraries=tuple(dict.fromkeys(_text(i.name).lower() for i in imports)),
        imported_symbols=_sorted(_text(e.name) if e.name else f"#{e.ordinal}" for i in imports for e in i.entries),
        signed=bool(b.has_signatures),
    )


def _elf(b: lief.ELF.Binary, name: str) -> Binary:
    h = b.header
    machine = h.machine_type.name
    arch = _ELF_ARCH.get(machine, machine.lower())
    if machine == "PPC64":
        arch = "ppc64le" if h.identity_data == lief.ELF.Header.ELF_DATA.LSB else "ppc64"
    local = lief.ELF.Symbol.BINDING.LOCAL
    return Binary(
        name=name,
        format="ELF",
        arch=arch,
        kind=_ELF_KIND.get(h.file_type.name, h.file_type.name.lower()),
        exports=_sorted(n for s in b.dynamic_symbols if s.exported and (n := _text(s.name)).startswith(INIT_PREFIX)),
        libraries=tuple(_text(lib) for lib in b.libraries),
        imported_symbols=_sorted(_text(s.name) for s in b.dynamic_symbols if s.shndx == 0 and s.binding != local),
    )


def describe_slices(binary: bytes, name: str) -> tuple[Binary, ...]:
    """Every slice of `binary` (one for ELF, PE and thin Mach-O). Raises InvalidBinary if LIEF cannot parse
    it as ELF, PE or Mach-O."""
    parsed = lief.parse(binary)
    if isinstance(parsed, lief.MachO.Binary):
        fat = lief.MachO.parse(binary)
        if fat is None or fat.size == 0:
            raise InvalidBinary(name, "LIEF parses no Mach-O slice")
        thin = [b for i in range(fat.size) if (b := fat.at(i)) is not None]
        arches = tuple(_macho_arch(b) for b in thin)
        return tuple(_macho(b, name, arches if len(thin) > 1 else ()) for b in thin)
    if isinstance(parsed, lief.PE.Binary):
        return (_pe(parsed, name),)
    if isinstance(parsed, lief.ELF.Binary):
        return (_elf(parsed, name),)
    raise InvalidBinary(name, "not an ELF, PE or Mach-O binary")


def _pick(slices: Sequence[Binary], arch: str | None) -> Binary:
    return next((s for s in slices if s.arch == arch), slices[0])


def describe(binary: bytes, name: str, arch: str | None = None) -> Binary:
    """One binary, reduced to what `compare_binaries` checks; of a fat Mach-O the slice of `arch` (a
    normalized name), or the first slice when `arch` is None or not in the file."""
    return _pick(describe_slices(binary, name), arch)


# -- comparing (pure) ---------------------------------------------------------------------------------------

def tag_arches(platform: str) -> tuple[tuple[str, ...], tuple[int, int] | None]:
    """The arches and the macOS version a wheel platform tag names (its '.'-separated parts, first macOS
    part wins): `macosx_10_9_universal2` → (("x86_64", "aarch64"), (10, 9)); anything but macOS → ((), None)."""
    for part in platform.split("."):
        m = _MACOS_TAG.fullmatch(part)
        if m and m.group(3) in _TAG_ARCHES:
            return _TAG_ARCHES[m.group(3)], (int(m.group(1)), int(m.group(2)))
    return (), None


def _vtuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def _allowed(lib: str, fmt: str) -> bool:
    return any(fnmatch.fnmatchcase(lib, pat) for pat in ALLOWED_LIBRARIES.get(fmt, ()))


def compare_binaries(rebuilt: Binary, published: Binary, module: str, platform: str = "") -> list[Check]:
    """The checks of one module (pure). `platform`: the rebuilt wheel's platform tag (for the arch it names
    and the macOS version its binaries must not exceed)."""
    r, p = rebuilt, published
    arches, macos = tag_arches(platform)
    checks = [Check(module, "format", r.format == p.format, f"{r.format} vs {p.format}")]

    arch_detail = f"{r.arch} vs {p.arch}"
    if p.slices:
        arch_detail += f" (published universal binary, slices {', '.join(p.slices)})"
    tag_ok = not arches or r.arch in arches
    if not tag_ok:
        arch_detail += f"; the tag {platform} names {', '.join(arches)}"
    checks.append(Check(module, "arch", r.arch == p.arch and tag_ok, arch_detail))

    loadable = {"bundle", "dylib"}
    same_kind = r.kind == p.kind or (r.format == p.format == "MachO" and {r.kind, p.kind} <= loadable)
    checks.append(Check(module, "kind", same_kind, f"{r.kind} vs {p.kind}"))

    if r.exports == p.exports:
        checks.append(Check(module, "exports", True, ", ".join(r.exports) or "no PyInit_ exports in either"))
    else:
        missing = sorted(set(p.exports) - set(r.exports))
        extra = sorted(set(r.exports) - set(p.exports))
        parts = [f"missing {', '.join(missing)}"] * bool(missing) + [f"extra {', '.join(extra)}"] * bool(extra)
        checks.append(Check(module, "exports", False, "; ".join(parts)))

    if r.format in ALLOWED_LIBRARIES:
        bad = [lib for lib in r.libraries if not _allowed(lib, r.format)]
        only_published = sorted(set(p.libraries) - set(r.libraries))
        detail = (f"{', '.join(bad)} not provided by CPython or the OS" if bad
                  else f"{len(r.libraries)} librar{'y' if len(r.libraries) == 1 else 'ies'}, all provided")
        if only_published:
            detail += f"; only the published binary loads {', '.join(only_published)}"
        checks.append(Check(module, "libraries", not bad, detail))

    if r.format == "MachO":
        limit = macos
        if limit is not None and r.arch == "aarch64":
            limit = max(limit, MACOS_ARM64_FIRST)
        published_min = f"; published {p.min_os or 'none'}"
        if r.min_os is None:
            checks.append(Check(module, "min_os", False, "no LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX" +
                                published_min))
        elif limit is None:
            checks.append(Check(module, "min_os", False, f"{r.min_os}, but the tag {platform!r} names no macOS "
                                "version" + published_min))
        else:
            shown = f"{limit[0]}.{limit[1]}"
            ok = _vtuple(r.min_os) <= limit
            checks.append(Check(module, "min_os", ok, f"{r.min_os} {'≤' if ok else '>'} {shown}" + published_min))
        if r.arch == "aarch64":
            checks.append(Check(module, "signed", r.signed,
                                "LC_CODE_SIGNATURE present" if r.signed else "arm64 code without LC_CODE_SIGNATURE"))
    return checks


def compare_slices(rebuilt: Sequence[Binary], published: Sequence[Binary], module: str,
                   platform: str = "") -> list[Check]:
    """Compare the slices of one module (see the module docstring for how fat files are paired)."""
    arches, _ = tag_arches(platform)
    if len(rebuilt) == 1:
        want = arches[0] if len(arches) == 1 else rebuilt[0].arch  # the tag's arch, else the binary's
        return compare_binaries(rebuilt[0], _pick(published, want), module, platform)
    checks = []
    for arch in arches or tuple(s.arch for s in rebuilt):
        label = f"{module}[{arch}]"
        r = next((s for s in rebuilt if s.arch == arch), None)
        if r is None:
            checks.append(Check(label, "arch", False, f"no {arch} slice in the rebuilt binary "
                                f"({', '.join(s.arch for s in rebuilt)})"))
            continue
        checks.extend(compare_binaries(r, _pick(published, arch), label, platform))
    return checks


# -- wheels (reads the zip files) ---------------------------------------------------------------------------

def extension_members(members: Iterable[str]) -> dict[str, str]:
    """Dotted module name → member name, for the extension modules among a wheel's member names (pure):
    `.so` and `.pyd` files whose directories and name (up to the first '.') are identifiers, so that
    `pkg.libs/`, `.dylibs/` and `.data/` contents are left out. The first member of a name wins."""
    found: dict[str, str] = {}
    for member in sorted(members):
        if not member.endswith((".so", ".pyd")):
            continue
        *dirs, base = member.split("/")
        parts = [*dirs, base.split(".")[0]]
        if all(_IDENTIFIER.fullmatch(p) for p in parts):
            found.setdefault(".".join(parts), member)
    return found


def _read_modules(wheel: Path, max_member: int) -> dict[str, tuple[Binary, ...]]:
    try:
        zf = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as e:
        raise InvalidBinary(str(wheel), f"not a readable wheel: {e}") from e
    with zf:
        out = {}
        for module, member in extension_members(zf.namelist()).items():
            size = zf.getinfo(member).file_size
            if size > max_member:
                raise InvalidBinary(f"{wheel.name}:{member}", f"{size} bytes, more than {max_member}")
            out[module] = describe_slices(zf.read(member), member)
        return out


def compare_wheels(rebuilt: Path, published: Path, *, max_member: int = 1 << 30) -> StructureReport:
    """Compare the extension modules of two wheels (see the module docstring). The rebuilt wheel's
    filename gives the platform tag its binaries are held to."""
    platform = parse_wheel_name(rebuilt.name).platform
    ours, theirs = _read_modules(rebuilt, max_member), _read_modules(published, max_member)
    checks: list[Check] = []
    for module in sorted(ours.keys() | theirs.keys()):
        if module not in ours:
            checks.append(Check(module, "present", False, f"in {published.name}, not in the rebuilt wheel"))
        elif module not in theirs:
            checks.append(Check(module, "present", True, f"only in the rebuilt wheel, not in {published.name}"))
        else:
            checks.extend(compare_slices(ours[module], theirs[module], module, platform))
    return StructureReport(rebuilt.name, published.name, tuple(checks))
