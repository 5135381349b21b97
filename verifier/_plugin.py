"""How an application wires the verifier into casstore: the ``casstore.rebuilders`` entry point.

casstore never imports the verifier; its CLI loads ``zig = verifier._plugin:zig_rebuilder`` and calls
it with the store's root to get a rebuilder for evicted wheels.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._rebuilder import ZigRebuilder
from .errors import InvalidTarget
from .toolchain.targets import get_target
from .toolchain.zig import ZIG_VERSION

__all__ = ["StoreRebuilder", "zig_rebuilder"]


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
