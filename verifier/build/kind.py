"""What kind of build an unpacked sdist is: its backend and the languages it compiles. Pure code over
the sdist's file list and its pyproject.toml / setup.py text; no build runs.

The kind decides how a build is set up (a meson cross file, a CMake toolchain file, which native
libraries it needs) and, for what this machine cannot build, the cause an *inconclusive* grade names
before any build is tried: Rust needs crates from a registry no machine here reaches, Fortran has no
compiler in the zig toolchain.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["BACKENDS", "NO_FORTRAN", "NO_RUST", "BuildKind", "build_kind", "detect"]

NO_RUST = "Rust toolchain or crates unavailable: no crates registry is reachable here (see docs/verifier.md)"
NO_FORTRAN = "no Fortran compiler in the zig toolchain (see docs/verifier.md)"

# PEP 517 backends -> the build system name the verifier knows how to drive.
BACKENDS = {
    "setuptools.build_meta": "setuptools",
    "setuptools.build_meta:__legacy__": "setuptools",
    "mesonpy": "meson-python",
    "scikit_build_core.build": "scikit-build-core",
    "maturin": "maturin",
    "hatchling.build": "hatchling",
    "flit_core.buildapi": "flit",
    "pdm.backend": "pdm",
    "poetry.core.masonry.api": "poetry",
    "setuptools_rust": "setuptools",
}
# A build requirement -> the backend an in-tree backend (build-system.backend-path) that requires it wraps.
_REQUIRE_BACKENDS = {"setuptools": "setuptools", "meson-python": "meson-python", "scikit-build-core": "scikit-build-core",
                     "hatchling": "hatchling", "flit-core": "flit", "pdm-backend": "pdm", "poetry-core": "poetry"}
_C = (".c",)
_CXX = (".cc", ".cpp", ".cxx", ".c++")
_FORTRAN = (".f", ".f90", ".f95", ".f03", ".f08", ".for")
_CYTHON = (".pyx",)
_SKIP_DIRS = {"tests", "test", "testing", "docs", "doc", "benchmarks", "examples", "bench",
              "test cases"}  # meson's own tests, in a vendored meson (numpy's vendored-meson)


@dataclass(frozen=True)
class BuildKind:
    backend: str  # the name in BACKENDS' values, or the backend string itself when unknown
    languages: frozenset[str]  # of "c", "c++", "cython", "fortran", "rust", "mypyc"
    known_backend: bool = True

    @property
    def label(self) -> str:
        """One short name for reports: 'meson-python + Cython + C++', 'setuptools C', 'maturin Rust'..."""
        order = ("rust", "mypyc", "fortran", "cython", "c++", "c")
        langs = [{"c": "C", "c++": "C++", "cython": "Cython", "fortran": "Fortran", "rust": "Rust",
                  "mypyc": "mypyc"}[x] for x in order if x in self.languages]
        return " + ".join([self.backend, *langs]) if langs else f"{self.backend} (pure)"

    @property
    def pure(self) -> bool:
        """Nothing to compile: no C, C++, Cython, Fortran, Rust or mypyc sources (its wheel is py3-none-any)."""
        return not self.languages

    @property
    def cannot_build(self) -> str | None:
        """Why this machine cannot build the sdist at all (the inconclusive cause), or None."""
        if "rust" in self.languages:
            return NO_RUST
        if "fortran" in self.languages:
            return NO_FORTRAN
        if not self.known_backend:
            return f"unknown build backend {self.backend!r}: the verifier does not know how to drive it"
        return None


def _backend(pyproject: dict[str, object] | None) -> tuple[str, list[str]]:
    bs = (pyproject or {}).get("build-system")
    if not isinstance(bs, dict):
        return "setuptools.build_meta:__legacy__", []
    backend = bs.get("build-backend") or "setuptools.build_meta:__legacy__"
    requires = bs.get("requires") or []
    return str(backend), [str(r) for r in requires] if isinstance(requires, list) else []


def _name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[(@]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def build_kind(names: Iterable[str], pyproject: dict[str, object] | None, texts: Iterable[str] = ()) -> BuildKind:
    """The kind of an sdist from its member ``names`` (relative paths), its parsed pyproject.toml and the
    text of its build scripts (setup.py, meson.build, CMakeLists.txt) in ``texts``."""
    backend, requires = _backend(pyproject)
    reqs = {_name(r) for r in requires}
    langs: set[str] = set()
    for n in names:
        p = PurePosixPath(n)
        if set(p.parts[:-1]) & _SKIP_DIRS:
            continue
        suffix = p.suffix.lower()
        if suffix in _C:
            langs.add("c")
        elif suffix in _CXX:
            langs.add("c++")
        elif suffix in _FORTRAN:
            langs.add("fortran")
        elif suffix in _CYTHON:
            langs.add("cython")
        elif p.name == "Cargo.toml":
            langs.add("rust")
    script = "\n".join(texts)
    if "mypycify" in script or "mypy" in reqs and "mypyc" in script or "hatch-mypyc" in reqs:  # mypy: in-tree mypyc
        langs.add("mypyc")
    if backend.startswith("maturin") or "setuptools-rust" in reqs:
        langs.add("rust")
    elif "rust" in langs and "Cargo.toml" not in script and not (reqs & {"maturin", "setuptools-rust"}):
        langs.discard("rust")  # a Cargo.toml of a bundled tool or test, not part of this build
    if re.search(r"add_languages\([^)]*fortran|project\([^)]*fortran", script, re.IGNORECASE):
        langs.add("fortran")
    name = BACKENDS.get(backend) or BACKENDS.get(backend.split(":")[0])
    bs = (pyproject or {}).get("build-system")
    if name is None and isinstance(bs, dict) and bs.get("backend-path"):
        # An in-tree backend (frozenlist's pep517_backend.hooks) wraps the known backend it requires.
        wrapped = next((v for k, v in _REQUIRE_BACKENDS.items() if k in reqs), None)
        if wrapped is not None:
            name = wrapped
    return BuildKind(name or backend, frozenset(langs), known_backend=name is not None)


def detect(src: Path) -> BuildKind:
    """:func:`build_kind` of the unpacked sdist at ``src``."""
    names = [str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()]
    pyproject = None
    pp = src / "pyproject.toml"
    if pp.is_file():
        try:
            pyproject = tomllib.loads(pp.read_text(errors="replace"))
        except tomllib.TOMLDecodeError:
            pyproject = None
    texts = []
    for script in ("setup.py", "meson.build", "CMakeLists.txt"):
        f = src / script
        if f.is_file():
            texts.append(f.read_text(errors="replace")[:1 << 20])
    return build_kind(names, pyproject, texts)
