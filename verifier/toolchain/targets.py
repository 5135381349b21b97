"""Targets as data: a zig triple mapped to a wheel platform tag, the target's sysconfig values, and where
its Python comes from for the smoke test (Debian's packages for that architecture, run under qemu-user; for
Windows x86_64 python.org's embeddable CPython under Wine; macOS and Windows arm64 have none here).

macOS targets take an optional minimum version (`aarch64-macos.11.0`); without one it is the oldest macOS
zig 0.17.1 supports (`std/Target.zig`: 15.0), written both into the wheel tag and, by zig, into the
binary's LC_BUILD_VERSION. Windows targets are zig's `*-windows-gnu`: mingw-w64 linking the UCRT, the C
runtime python.org's CPython uses."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from ..errors import InvalidTarget

__all__ = ["DEFAULT_TARGET", "TARGETS", "Target", "get_target", "is_native"]


@dataclass(frozen=True)
class Target:
    name: str  # the recipe's spelling, e.g. "x86_64-linux-gnu.2.17"
    zig_triple: str  # what goes after `zig cc -target`
    platform_tag: str  # wheel platform tag
    auditwheel_policy: str  # what `auditwheel show` must report
    arch: str  # machine name as in sysconfig / uname / the wheel tag
    multiarch: str  # e.g. x86_64-linux-gnu; goes into EXT_SUFFIX and the sysconfigdata name
    libc: str  # "gnu" | "musl"
    debian_arch: str = ""  # Debian's name for the architecture (headers and the smoke-test Python)
    qemu: str = ""  # the qemu-user binary that runs it on another host (Debian's qemu-user-static)
    gnu_type: str = ""  # HOST_GNU_TYPE in sysconfig
    os: str = "linux"  # "linux" | "macos" | "windows"
    min_os: str = ""  # macOS: the minimum version, as in the tag and LC_BUILD_VERSION

    def ext_suffix(self, py_tag: str = "311") -> str:
        if self.os == "windows":
            return f".cp{py_tag}-{self.platform_tag}.pyd"
        if self.os == "macos":
            return f".cpython-{py_tag}-darwin.so"
        return f".cpython-{py_tag}-{self.multiarch}.so"

    @property
    def host_platform(self) -> str:
        """The value of `_PYTHON_HOST_PLATFORM` / sysconfig.get_platform() for a cross build."""
        if self.os == "windows":
            return "win-" + self.platform_tag.split("_", 1)[1]
        if self.os == "macos":
            return f"macosx-{self.min_os}-{_MACOS_ARCH[self.arch]}"
        return f"linux-{self.arch}"

    @property
    def sysconfigdata_name(self) -> str:
        """The module name of the target's generated build-time variables (`_PYTHON_SYSCONFIGDATA_NAME`):
        not CPython's own `_sysconfigdata__linux_<multiarch>`, which a build interpreter of the same
        architecture has in its stdlib, ahead of the build venv on sys.path."""
        return f"_sysconfigdata_cross_{self.os}_{self.multiarch or self.arch}"

    @property
    def musl_libc(self) -> str:
        """The soname of musl's libc on the target, as auditwheel and Alpine spell it."""
        return f"libc.musl-{self.arch}.so.1"


# arch -> (zig cpu, Debian arch, qemu binary, gnu multiarch, musl multiarch, minimum glibc zig provides)
_ARCHES: dict[str, tuple[str, str, str, str, str, str]] = {
    "x86_64": ("x86_64", "amd64", "qemu-x86_64-static", "x86_64-linux-gnu", "x86_64-linux-musl", "2.17"),
    "aarch64": ("aarch64", "arm64", "qemu-aarch64-static", "aarch64-linux-gnu", "aarch64-linux-musl", "2.17"),
    "armv7l": ("arm", "armhf", "qemu-arm-static", "arm-linux-gnueabihf", "arm-linux-musleabihf", "2.17"),
    "ppc64le": ("powerpc64le", "ppc64el", "qemu-ppc64le-static", "powerpc64le-linux-gnu", "powerpc64le-linux-musl",
                "2.19"),  # zig has no ppc64le glibc older than 2.19
    "s390x": ("s390x", "s390x", "qemu-s390x-static", "s390x-linux-gnu", "s390x-linux-musl", "2.17"),
    "riscv64": ("riscv64", "riscv64", "qemu-riscv64-static", "riscv64-linux-gnu", "riscv64-linux-musl",
                "2.31"),  # the oldest manylinux policy auditwheel knows for riscv64
}


def _gnu(arch: str) -> Target:
    cpu, darch, qemu, multiarch, _, glibc = _ARCHES[arch]
    major, minor = glibc.split(".")
    tag = f"manylinux_{major}_{minor}_{arch}"
    abi = "gnueabihf" if arch == "armv7l" else "gnu"
    triple = f"{cpu}-linux-{abi}.{glibc}"
    return Target(triple, triple, tag, tag, arch, multiarch, "gnu", darch, qemu, f"{cpu}-pc-linux-{abi}")


def _musl(arch: str) -> Target:
    cpu, darch, qemu, _, multiarch, _ = _ARCHES[arch]
    tag = f"musllinux_1_2_{arch}"
    abi = "musleabihf" if arch == "armv7l" else "musl"
    triple = f"{cpu}-linux-{abi}"
    return Target(triple, triple, tag, tag, arch, multiarch, "musl", darch, qemu, f"{cpu}-pc-linux-{abi}")


# The only place targets are defined. The gnu rows are smoke-tested under qemu with Debian's Python for
# the architecture; musl rows with a musl CPython 3.11 built here with zig (muslpython.py, docs/verifier.md).
TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        _gnu("x86_64"),
        _gnu("aarch64"),
        _musl("x86_64"),
        _musl("aarch64"),
        _gnu("armv7l"),
        _gnu("ppc64le"),
        _gnu("s390x"),
        _gnu("riscv64"),
    )
}

MACOS_DEFAULT_MIN = "15.0"  # the oldest macOS zig 0.17.1 supports (its std/Target.zig)
_MACOS_ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}
_WINDOWS_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def _macos(arch: str, min_os: str = MACOS_DEFAULT_MIN) -> Target:
    name = f"{arch}-macos" + ("" if min_os == MACOS_DEFAULT_MIN else f".{min_os}")
    major, minor = min_os.split(".")[:2]
    return Target(name, f"{arch}-macos.{min_os}", f"macosx_{major}_{minor}_{_MACOS_ARCH[arch]}", "", arch, "", "",
                  gnu_type=f"{arch}-apple-darwin", os="macos", min_os=f"{major}.{minor}")


def _windows(arch: str) -> Target:
    return Target(f"{arch}-windows", f"{arch}-windows-gnu", f"win_{_WINDOWS_ARCH[arch]}", "", arch, "", "",
                  gnu_type=f"{arch}-w64-mingw32", os="windows")


for _t in (_macos("x86_64"), _macos("aarch64"), _windows("x86_64"), _windows("aarch64")):
    TARGETS[_t.name] = _t

DEFAULT_TARGET = "x86_64-linux-gnu.2.17"
_NO_TAG = {"arm-windows": "no CPython wheel tag exists for 32-bit arm Windows (win_arm32 is not a tag pip knows)",
           "x86-windows": "32-bit x86 Windows (win32) is not built: zig's mingw-w64 target is not set up for it here"}


def get_target(name: str | Target) -> Target:
    """The target named `name`; a macOS name may carry a minimum version (`aarch64-macos.11.0`)."""
    if isinstance(name, Target):
        return name
    if name in TARGETS:
        return TARGETS[name]
    base, _, version = name.partition(".")
    if (why := _NO_TAG.get(base.removesuffix("-gnu"))) is not None:
        raise InvalidTarget(name, why)
    if base in ("x86_64-macos", "aarch64-macos") and version:
        parts = version.split(".")
        if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 2 or not 10 <= int(parts[0]) <= 99:
            raise InvalidTarget(name, "a macOS minimum version is MAJOR.MINOR, e.g. 11.0")
        return _macos(base.split("-")[0], f"{parts[0]}.{parts[1] if len(parts) > 1 else 0}")
    raise InvalidTarget(name)


def is_native(target: Target, machine: str | None = None) -> bool:
    """Whether the host's own Python can build and run for `target` (same arch, glibc): no cross setup."""
    return target.os == "linux" and target.arch == (machine or platform.machine()) and target.libc == "gnu"
