"""Targets as data: a zig triple mapped to a wheel platform tag and the target's sysconfig values."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import InvalidTarget

__all__ = ["DEFAULT_TARGET", "TARGETS", "Target", "get_target"]


@dataclass(frozen=True)
class Target:
    name: str  # the recipe's spelling, e.g. "x86_64-linux-gnu.2.17"
    zig_triple: str  # what goes after `zig cc -target`
    platform_tag: str  # wheel platform tag
    auditwheel_policy: str  # what `auditwheel show` must report
    arch: str  # machine name as in sysconfig / uname
    multiarch: str  # e.g. x86_64-linux-gnu; goes into EXT_SUFFIX
    libc: str  # "gnu" | "musl"

    def ext_suffix(self, py_tag: str = "311") -> str:
        return f".cpython-{py_tag}-{self.multiarch}.so"

    @property
    def host_platform(self) -> str:
        """The value of `_PYTHON_HOST_PLATFORM` / sysconfig.get_platform() for a cross build."""
        return f"linux-{self.arch}"


def _gnu(arch: str, glibc: str = "2.17") -> Target:
    major, minor = glibc.split(".")
    tag = f"manylinux_{major}_{minor}_{arch}"
    return Target(f"{arch}-linux-gnu.{glibc}", f"{arch}-linux-gnu.{glibc}", tag, tag, arch, f"{arch}-linux-gnu", "gnu")


def _musl(arch: str) -> Target:
    tag = f"musllinux_1_2_{arch}"
    return Target(f"{arch}-linux-musl", f"{arch}-linux-musl", tag, tag, arch, f"{arch}-linux-musl", "musl")


# Rows beyond x86_64 glibc are for cross builds (issue 5); the table is the only place targets are defined.
TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        _gnu("x86_64"),
        _gnu("aarch64"),
        _musl("x86_64"),
        _musl("aarch64"),
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
