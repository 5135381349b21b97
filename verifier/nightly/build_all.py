"""Build-all (``casstore build-all``), the store's canonical builds: for each sdist in a store, build the
wheels of a target matrix, grade them, keep the records and the pinned build dependencies, and store the
wheels (origin "rebuilt")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..build.build import BuildSetup
from ..build.wheelhouse import default_wheelhouse, keep_build_deps
from ..grading.verification import keep_records, verify
from ..toolchain.targets import DEFAULT_TARGET

__all__ = ["CanonicalBuild", "build_all"]


@dataclass(frozen=True, slots=True)
class CanonicalBuild:
    sdist: str
    target: str
    grade: str
    wheel: str | None
    stored: str  # "rebuilt" (stored as a new file), "matches-published" (identical to the stored wheel),
    #              "beside-published" (an uploaded wheel of that name differs; the rebuild is stored with
    #              the build tag 0rebuilt), or "none"


REBUILT_TAG = "0rebuilt"


def rebuilt_name(filename: str) -> str:
    """``name-ver-tags.whl`` → ``name-ver-0rebuilt-tags.whl`` (a wheel that has no build tag yet)."""
    parts = filename[: -len(".whl")].split("-")
    if len(parts) != 5:
        return filename
    return "-".join([*parts[:2], REBUILT_TAG, *parts[2:]]) + ".whl"


def keep_rebuilt_wheel(store: Any, path: Path, digest: str) -> tuple[str, str]:
    """Store a rebuilt wheel (origin "rebuilt"); returns its name in the store and what happened.

    If an uploaded wheel of that name holds the same bytes, nothing is stored ("matches-published":
    that wheel is now reproducible). If it holds other bytes, it stays as it is and the rebuild goes
    beside it under the PEP 427 build tag 0rebuilt ("beside-published", same bytes, so the records
    still match)."""
    name, stored = path.name, "rebuilt"
    if store.has(name):
        if str(store.info(name).blake3) == digest:
            return name, "matches-published"
        name, stored = rebuilt_name(path.name), "beside-published"
    if not store.has(name):
        store.put(path, name, origin="rebuilt")
    return name, stored


def _wheel_path(workdir: Path, record: Any) -> Path | None:
    for b in record.builds:
        if b.ok and b.wheel_filename:
            for p in sorted(workdir.rglob(b.wheel_filename)):
                return p
    return None


def build_all(store: Any, targets: Sequence[str] = (DEFAULT_TARGET,), *, workdir: Path, builds: int = 2,
              setup: BuildSetup = BuildSetup(),  # noqa: B008 (frozen: one shared default is safe)
              projects: Sequence[str] = (), progress: Callable[[str], None] | None = None,
              **verify_kw: Any) -> list[CanonicalBuild]:
    """Rebuild and grade every sdist of ``store`` (or of ``projects``) for ``targets``; ``setup`` is what
    every build shares (sandbox, limits, wheelhouse, zig cache, sysroots)."""
    wheelhouse = (setup.wheelhouse or default_wheelhouse()).absolute()
    setup = replace(setup, wheelhouse=wheelhouse)
    sdists = [f for f in store.ls(kind="sdist") if not projects or f.project in projects]
    out: list[CanonicalBuild] = []
    for sd in sdists:
        work = workdir.absolute() / sd.filename
        records = verify(sd.filename, targets, builds=builds, workdir=work, store=store, setup=setup,
                         progress=progress, **verify_kw)
        for rec in records:
            keep_build_deps(store, rec.recipe, wheelhouse)
        keep_records(store, records)
        for rec in records:
            path = _wheel_path(work / rec.recipe.target, rec) if rec.grade in ("reproducible", "repeatable") else None
            if path is None:
                out.append(CanonicalBuild(sd.filename, rec.recipe.target, rec.grade, None, "none"))
                continue
            digest = next(b.wheel_blake3 for b in rec.builds if b.wheel_filename == path.name)
            name, stored = keep_rebuilt_wheel(store, path, str(digest))
            out.append(CanonicalBuild(sd.filename, rec.recipe.target, rec.grade, name, stored))
    return out
