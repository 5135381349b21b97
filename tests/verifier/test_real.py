"""Real sdists from PyPI (cached in .cache/sdists), rebuilt with zig for manylinux_2_17_x86_64."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier import BuildSetup, verify

from .conftest import CACHE
from .pypi import fetch_published_wheel, fetch_sdist

pytestmark = pytest.mark.slow

# frozenlist's in-tree backend builds in a tempfile.mkdtemp() dir: reproducible only with the
# recipe's deterministic temp names.
REAL = [("markupsafe", "2.1.5"), ("msgpack", "1.1.0"), ("ujson", "5.10.0"), ("frozenlist", "1.5.0")]


@pytest.mark.parametrize(("name", "version"), REAL)
def test_real_sdist_rebuilds_reproducibly(name, version, tmp_path: Path, wheelhouse, zig_cache, sandbox,
                                          warm_variations) -> None:
    sdist = fetch_sdist(name, version, CACHE)
    published = fetch_published_wheel(name, version, CACHE)
    (rec,) = verify(sdist, workdir=tmp_path, setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache),
                    variations=warm_variations,
                    published={"x86_64-linux-gnu.2.17": published} if published else None)
    assert rec.grade == "reproducible", (rec.reasons, rec.explanation)
    build = rec.builds[0]
    assert build.smoke == "ok" and build.ext_modules
    assert build.wheel_filename and build.wheel_filename.endswith("-cp311-cp311-manylinux_2_17_x86_64.whl")
    # zig is not the compiler PyPI's wheels were built with: the bits differ, but the comparison is made.
    assert rec.published in ("identical", "equal-after-normalization", "differs", "none")
