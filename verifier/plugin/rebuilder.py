"""How an application wires the verifier into casstore: the ``casstore.rebuilders`` entry point.

casstore never imports the verifier; its CLI loads ``zig = verifier.plugin.rebuilder:zig_rebuilder`` and
calls it with the store's root to get a rebuilder for evicted wheels. A :class:`ZigRebuilder` rebuilds a
recorded wheel from the store alone: the sdist, every build dependency and native input come out of the store (verified
by digest), nothing from the network. What eviction relies on (DESIGN.md)."""

from __future__ import annotations

import importlib.metadata
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..build.build import REBUILD, BuildSetup
from ..build.native import inputs_from_store
from ..build.wheelhouse import wheelhouse_from_store
from ..errors import BuildFailed, InvalidTarget
from ..exec.sandbox import Sandbox
from ..grading.verification import BlobStore, rebuild
from ..record import Recipe
from ..toolchain.targets import get_target
from ..toolchain.zig import ZIG_VERSION

__all__ = ["StoreRebuilder", "ZigRebuilder", "zig_rebuilder"]


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
        wheelhouse = wheelhouse_from_store(store, recipe, work / "wheelhouse")
        natives = inputs_from_store(store, recipe, work / "natives")
        setup = BuildSetup(sandbox=self.sandbox, wheelhouse=wheelhouse, zig_cache=self.zig_cache, natives=natives)
        _, res = rebuild(recipe.sdist_blake3, recipe.target, workdir=work, store=store, recipe=recipe,
                         variation=REBUILD, setup=setup, smoke=False)
        if not res.ok or res.wheel is None:
            raise BuildFailed(f"rebuild of {recipe.sdist_filename!r} for {recipe.target} failed: {res.failure}", res.log)
        dest_dir.mkdir(parents=True, exist_ok=True)
        out = dest_dir / res.wheel.name
        shutil.copyfile(res.wheel, out)
        return out


class StoreRebuilder(ZigRebuilder):
    """A :class:`ZigRebuilder` that also tells the store whether it can honour a recipe."""

    def toolchain_problem(self, recipe: Mapping[str, Any]) -> str | None:
        wanted = recipe.get("zig_version")
        if wanted != ZIG_VERSION:
            return f"the recipe needs zig {wanted}; this rebuilder runs zig {ZIG_VERSION}"
        try:
            have = importlib.metadata.version("ziglang")
        except importlib.metadata.PackageNotFoundError:
            return f"ziglang is not installed (pip install ziglang=={ZIG_VERSION})"
        if have != ZIG_VERSION:
            return f"ziglang {have} is installed; the recipe needs {ZIG_VERSION}"
        try:
            get_target(str(recipe.get("target")))
        except InvalidTarget as e:
            return str(e)
        return None


def zig_rebuilder(root: Path | None) -> StoreRebuilder:
    """The default rebuilder of a store at ``root``: builds under ``ROOT/rebuild``, zig cache in
    ``.cache/zig`` (shared with the verifier's other builds)."""
    base = (root / "rebuild") if root is not None else Path(".cache/rebuild")
    return StoreRebuilder(base, zig_cache=Path(".cache/zig").absolute())
