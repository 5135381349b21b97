"""CPython versions as data: which version a build is for, and where that version's interpreter, headers
and sysconfig come from (Debian packages of a named suite; the host's own interpreter for its version)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InvalidPython, PythonExcluded

__all__ = ["HOST_PYTHON", "PYTHONS", "PythonSource", "choose_python", "get_python", "python_of_tag"]

HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

# What a Debian sysroot needs besides the interpreter to import extension modules: libc, the libraries the
# stdlib's own extension modules link, media-types for mimetypes. Names differ between Debian releases
# (trixie's 64-bit time_t transition renamed several to *t64).
_BOOKWORM_LIBS = (
    "libc6", "zlib1g", "libexpat1", "libffi8", "libgcc-s1", "libstdc++6", "libssl3", "libbz2-1.0", "liblzma5",
    "libuuid1", "libsqlite3-0", "libncursesw6", "libtinfo6", "libreadline8", "libcrypt1",
    "libdb5.3", "libgdbm6", "libnsl2", "libtirpc3", "media-types",
)
_TRIXIE_LIBS = (
    "libc6", "zlib1g", "libexpat1", "libffi8", "libgcc-s1", "libstdc++6", "libssl3t64", "libbz2-1.0", "liblzma5",
    "libuuid1", "libsqlite3-0", "libncursesw6", "libtinfo6", "libreadline8t64", "libmpdec4",
    "libdb5.3t64", "libnsl2", "libtirpc3t64", "media-types",
)

_BOOKWORM_ARCHES = frozenset({"amd64", "arm64", "armel", "armhf", "i386", "mips64el", "mipsel", "ppc64el", "s390x"})


@dataclass(frozen=True)
class PythonSource:
    version: str  # "3.13"
    suite: str  # the Debian suite its packages come from; "" = the host's own apt sources
    libs: tuple[str, ...]  # the Debian packages besides CPython's own that the sysroot needs
    debian_arches: frozenset[str]  # the architectures the suite has (official release architectures)

    @property
    def nodot(self) -> str:
        return self.version.replace(".", "")

    @property
    def tag(self) -> str:
        """The wheel's Python and ABI tag, e.g. cp313."""
        return f"cp{self.nodot}"

    @property
    def is_host(self) -> bool:
        """The interpreter running the verifier is this version: builds use it (and its venvs) directly."""
        return self.version == HOST_PYTHON

    @property
    def packages(self) -> tuple[str, ...]:
        v = self.version
        return (f"python{v}-minimal", f"libpython{v}-minimal", f"libpython{v}-stdlib", f"libpython{v}-dev", *self.libs)

    def has_arch(self, debian_arch: str) -> bool:
        return debian_arch in self.debian_arches

    def sysroot_key(self, debian_arch: str) -> str:
        """The sysroot's directory name under the cache: the architecture, prefixed by a non-host suite."""
        return f"{self.suite}-{debian_arch}" if self.suite else debian_arch


# The only place Python versions are defined. 3.11 is this host's (Debian 12 "bookworm", whose apt sources
# also give the cross targets' 3.11); 3.13 is Debian 13 "trixie"'s, fetched through a private sources.list.
PYTHONS: dict[str, PythonSource] = {
    p.version: p for p in (
        PythonSource("3.11", "", _BOOKWORM_LIBS, _BOOKWORM_ARCHES),
        PythonSource("3.13", "trixie", _TRIXIE_LIBS, _BOOKWORM_ARCHES - {"mipsel"} | {"riscv64"}),
    )
}


def get_python(version: str | PythonSource) -> PythonSource:
    if isinstance(version, PythonSource):
        return version
    try:
        return PYTHONS[version]
    except KeyError:
        raise InvalidPython(version, sorted(PYTHONS)) from None


def python_of_tag(tag: str) -> PythonSource:
    """The source of a recipe's `python_tag` (cp311 -> 3.11)."""
    for p in PYTHONS.values():
        if p.tag == tag:
            return p
    raise InvalidPython(tag, sorted(p.tag for p in PYTHONS.values()))


def _minor(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def choose_python(requires: str | None, requested: str | None = None, *, available: Iterable[str] | None = None,
                  host: str = HOST_PYTHON) -> str:
    """The CPython version ("3.13") to build an sdist whose Requires-Python is `requires` for (pure).

    `requested` (an explicit --python) is kept if `requires` allows it; otherwise the host's version if
    allowed, else the newest of `available` (default: PYTHONS) allowed. PythonExcluded names the cause when
    no version fits. Versions are checked as X.Y (so ">=3.11.4" excludes 3.11: pip compares the full
    version, and a bugfix release is not chosen here). A Requires-Python that is not a valid specifier
    set constrains nothing: pip's own check of it is what the build then meets."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    versions = sorted(set(available if available is not None else PYTHONS), key=_minor)
    if requested is not None and requested not in versions:
        raise InvalidPython(requested, versions)
    try:
        spec = SpecifierSet(requires or "")
    except InvalidSpecifier:
        spec = SpecifierSet()
    allowed = [v for v in versions if spec.contains(v, prereleases=True)]
    if requested is not None:
        if requested not in allowed:
            raise PythonExcluded(str(requires), versions, requested)
        return requested
    if host in allowed:
        return host
    if not allowed:
        raise PythonExcluded(str(requires), versions)
    return allowed[-1]
