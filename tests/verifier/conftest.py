from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from verifier import VARIATIONS, Sandbox, Variation, detect_sandbox

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """Build dependencies, fetched once (needs PyPI the first time), then used offline."""
    return CACHE / "wheelhouse"


@pytest.fixture(scope="session")
def zig_cache() -> Path:
    return CACHE / "zig"


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    return detect_sandbox()


@pytest.fixture(scope="session")
def warm_variations() -> tuple[Variation, ...]:
    """The default variations but with a warm zig cache for both builds (saves a cold zig per test)."""
    return tuple(replace(v, cold_cache=False) for v in VARIATIONS)
