"""The record of an sdist this machine cannot build at all, decided before any build runs: inconclusive for
Rust, Fortran, an unknown backend (from its build kind), a Requires-Python no CPython here meets, or build
dependencies that cannot be downloaded; broken when pip says its build requirements contradict each other.
No build runs and no files are kept."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

from casstore import hash_file

from ..build.kind import BuildKind, detect
from ..build.sdist import extract_sdist, requires_python, sdist_epoch
from ..record import Recipe, VerificationRecord
from ..toolchain.pythons import HOST_PYTHON, get_python
from .grades import Grade

__all__ = ["kind_of", "sdist_facts", "unbuildable_record"]


def sdist_facts(sdist: Path, workdir: Path) -> tuple[BuildKind, str | None]:
    """The build kind and the Requires-Python of `sdist`, unpacked into a scratch folder under `workdir`
    that is removed after."""
    scratch = workdir / "kind-src"
    try:
        src = extract_sdist(sdist, scratch)
        return detect(src), requires_python(src)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def kind_of(sdist: Path, workdir: Path) -> BuildKind:
    """The build kind of `sdist` (`sdist_facts`)."""
    return sdist_facts(sdist, workdir)[0]


def unbuildable_record(sdist: Path, target: str, kind: BuildKind, cause: str, *, started: str,
                       python: str | None = None, grade: Grade = Grade.INCONCLUSIVE) -> VerificationRecord:
    """A record for `target` naming `cause`, graded `grade` (default inconclusive); its recipe pins no build
    dependencies and no zig (none were resolved), so it never matches the recipe of a real build."""
    digests = hash_file(sdist)
    py = get_python(python or HOST_PYTHON)
    recipe = Recipe(
        sdist_filename=sdist.name, sdist_sha256=digests.sha256(), sdist_blake3=str(digests.digest()),
        target=target, python=f"{platform.python_implementation().lower()}-{platform.python_version()}"
        if python in (None, HOST_PYTHON) else f"cpython-{py.version}",
        python_tag=py.tag, zig_version="", build_deps=(), source_date_epoch=sdist_epoch(sdist),
    )
    return VerificationRecord(
        recipe=recipe, recipe_digest=recipe.digest, grade=grade.value, reasons=[cause],
        builds=[], explanation=None, published=None, seconds=0.0, started=started, build_kind=kind.label,
    )
