"""Pure sdists: the wheel is built once (no target setup), graded on its own two builds, and compared with
the pure wheel the index published; a pure build beside published platform wheels stays broken."""

from __future__ import annotations

import pytest

from verifier import BuildSetup, rebuild, verify
from verifier.build.build import PURE_NOTE

from . import sdists
from .conftest import CACHE
from .pypi import fetch_pure_wheel, fetch_sdist

pytestmark = pytest.mark.slow

TARGETS = ("x86_64-linux-gnu.2.17", "aarch64-linux-gnu.2.17")


def _setup(wheelhouse, zig_cache, sandbox) -> BuildSetup:  # type: ignore[no-untyped-def]
    return BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache)


def test_a_pure_sdist_is_reproducible_once_for_every_target(tmp_path, wheelhouse, zig_cache, sandbox) -> None:
    recs = verify(sdists.pure_sdist(tmp_path), TARGETS, workdir=tmp_path / "w",
                  setup=_setup(wheelhouse, zig_cache, sandbox), diffoscope=False)
    assert [r.grade for r in recs] == ["reproducible", "reproducible"], [r.reasons for r in recs]
    x86, arm = recs
    assert x86.recipe.pure and x86.recipe.target_headers == "" and PURE_NOTE in x86.reasons
    assert [b.wheel_filename for b in x86.builds] == ["tinypure-0.1-py3-none-any.whl"] * 2
    assert x86.builds[0].smoke == "ok" and x86.builds[0].auditwheel_policy is None
    assert x86.build_kind == "setuptools (pure)"
    assert arm.recipe.target == "aarch64-linux-gnu.2.17" and arm.recipe_digest != x86.recipe_digest
    assert arm.builds == x86.builds and "not built again" in arm.reasons[-1]
    assert not (tmp_path / "w" / "aarch64-linux-gnu.2.17").exists()


def test_a_pure_build_beside_a_published_platform_wheel_is_broken(tmp_path, wheelhouse, zig_cache, sandbox,
                                                                  warm_variations) -> None:
    setup = _setup(wheelhouse, zig_cache, sandbox)
    # The index's wheel of "tinypure 0.1" is a real C-extension wheel; the sdist at hand compiles nothing.
    _, platform = rebuild(sdists.c_sdist(tmp_path / "c", name="tinypure"), workdir=tmp_path / "c-build",
                          setup=setup, variation=warm_variations[0])
    assert platform.ok and platform.wheel is not None
    (rec,) = verify(sdists.pure_sdist(tmp_path / "p"), workdir=tmp_path / "w", setup=setup,
                    variations=warm_variations, published={TARGETS[0]: platform.wheel}, diffoscope=False)
    assert rec.grade == "broken"
    assert rec.reasons[-1] == f"the build made a pure wheel; the index published {platform.wheel.name!r}"


def test_python_dateutil_is_reproducible_and_compared_with_pypis_wheel(tmp_path, wheelhouse, zig_cache,
                                                                       sandbox) -> None:
    sdist = fetch_sdist("python-dateutil", "4.0.0", CACHE)
    published = fetch_pure_wheel("python-dateutil", "4.0.0", CACHE)
    assert published is not None and published.name == "python_dateutil-4.0.0-py3-none-any.whl"
    (rec,) = verify(sdist, workdir=tmp_path / "w", setup=_setup(wheelhouse, zig_cache, sandbox),
                    published={TARGETS[0]: published}, diffoscope=False)
    assert rec.grade == "reproducible", rec.reasons
    assert rec.recipe.pure and rec.builds[0].wheel_filename == published.name
    assert rec.published in ("identical", "equal-after-normalization", "differs")
