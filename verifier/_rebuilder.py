"""Rebuilding a recorded wheel from the store alone: the sdist and every build dependency come out of
the store (verified by digest), nothing from the network. What eviction relies on (DESIGN.md)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .build.build import REBUILD, build_once
from .errors import BuildFailed, VerifierError
from .exec.detect import detect_sandbox
from .exec.sandbox import Sandbox, hiding
from .grading.verification import BlobStore, _hidden, _resolve_sdist
from .record import Recipe, VerificationRecord

__all__ = ["ZigRebuilder", "keep_build_deps", "keep_records", "wheelhouse_from_store"]


def keep_build_deps(store: Any, recipe: Recipe, wheelhouse: Path) -> None:
    """Put every pinned build dependency of `recipe` into `store` (a no-op for those already there)."""
    for pin in recipe.build_deps:
        if not store.has(pin.filename):
            store.put(wheelhouse / pin.filename)


def wheelhouse_from_store(store: Any, recipe: Recipe, dest: Path) -> Path:
    """Export `recipe`'s pinned build dependencies from `store` into the directory `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for pin in recipe.build_deps:
        target = dest / pin.filename
        if target.is_file():
            continue
        try:
            store.export(pin.filename, target)
        except Exception as e:  # casstore's errors are not ours to import
            raise VerifierError(f"build dependency {pin.filename!r} is not in the store: {e}") from e
    return dest


def keep_records(store: Any, records: list[VerificationRecord]) -> list[str]:
    """Keep each record in the store's catalog (`Store.record_rebuild`), or as a plain blob in a store
    without a catalog of records; returns the digests of the records' JSON."""
    keep = getattr(store, "record_rebuild", None)
    if keep is None:
        return [str(store.put_blob(r.dumps().encode())) for r in records]
    return [str(keep(r.to_json())) for r in records]


class ZigRebuilder:
    """Rebuild a wheel by its recorded recipe from the store only; `rebuild` returns the wheel's path.
    The caller (the store) checks the digest against the one it recorded before serving the bytes."""

    def __init__(self, workdir: Path, *, zig_cache: Path | None = None, sandbox: Sandbox | None = None) -> None:
        self.workdir = workdir.absolute()
        self.zig_cache = zig_cache
        self.sandbox = sandbox

    def rebuild(self, store: BlobStore, recipe: Recipe | dict[str, Any], dest_dir: Path) -> Path:
        if isinstance(recipe, dict):
            recipe = Recipe.from_json(recipe.get("recipe", recipe))
        work = self.workdir / recipe.digest.removeprefix("blake3:")[:16]
        sdist = _resolve_sdist(recipe.sdist_blake3, store, work)
        wheelhouse = wheelhouse_from_store(store, recipe, work / "wheelhouse")
        res = build_once(sdist, recipe, REBUILD, workdir=work, wheelhouse=wheelhouse,
                         zig_cache=self.zig_cache, smoke=False,
                         sandbox=hiding(self.sandbox or detect_sandbox(), _hidden(store, work)))
        if not res.ok or res.wheel is None:
            raise BuildFailed(f"rebuild of {recipe.sdist_filename!r} for {recipe.target} failed: {res.failure}", res.log)
        dest_dir.mkdir(parents=True, exist_ok=True)
        out = dest_dir / res.wheel.name
        shutil.copyfile(res.wheel, out)
        return out
