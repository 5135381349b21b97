"""One build: an untrusted sdist unpacked safely, its build dependencies pinned from a local wheelhouse,
a wheel built with Zig in a fresh venv and sandbox, retagged, checked by auditwheel and smoke-imported."""

from .build import (
    REBUILD,
    VARIATIONS,
    BuildResult,
    BuildSetup,
    Variation,
    build_once,
    make_recipe,
    python_tag,
)
from .wheelhouse import default_wheelhouse

__all__ = [
    "REBUILD",
    "VARIATIONS",
    "BuildResult",
    "BuildSetup",
    "Variation",
    "build_once",
    "default_wheelhouse",
    "make_recipe",
    "python_tag",
]
