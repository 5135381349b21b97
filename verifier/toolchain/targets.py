"""Targets as data: a zig triple mapped to a wheel platform tag, the target's sysconfig values, and where
its Python comes from for the smoke test (Debian's packages for that architecture, run under qemu-user)."""

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

    def ext_suffix(self, py_tag: str = "311") -> str:
        return f".cpython-{py_tag}-{self.multiarch}.so"

    @property
    def host_platform(self) -> str:
        """The value of `_PYTHON_HOST_PLATFORM` / sysconfig.get_platform() for a cross build."""
        return f"linux-{self.arch}"

    @property
    def sysconfigdata_name(self) -> str:
        """The module name of the target's generated build-time variables (`_PYTHON_SYSCONFIGDATA_NAME`):
        not CPython's own `_sysconfigdata__linux_<multiarch>`, which a build interpreter of the same
        architecture has in its stdlib, ahead of the build venv on sys.path."""
        return f"_sysconfigdata_cross_linux_{self.multiarch}"

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

DEFAULT_TARGET = "x86_64-linux-gnu.2.17"


def get_target(name: str | Target) -> Target:
    if isinstance(name, Target):
        return name
    try:
        return TARGETS[name]
    except KeyError:
        raise InvalidTarget(name) from None


def is_native(target: Target, machine: str | None = None) -> bool:
    """Whether the host's own Python can build and run for `target` (same arch, glibc): no cross setup."""
    return target.arch == (machine or platform.machine()) and target.libc == "gnu"
