"""Requires-Python decides the CPython a real build is for: crafted C-extension sdists, built with zig."""

from __future__ import annotations

import pytest

from verifier import BuildSetup, rebuild, verify

from . import sdists

pytestmark = pytest.mark.slow


def _setup(wheelhouse, zig_cache, sandbox) -> BuildSetup:  # type: ignore[no-untyped-def]
    return BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache)


def test_an_sdist_that_needs_3_12_is_built_for_3_13(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    sd = sdists.requires_python_sdist(tmp_path, "tinynew", ">=3.12")
    (rec,) = verify(sd, workdir=tmp_path / "w", setup=_setup(wheelhouse, zig_cache, sandbox),
                    variations=warm_variations, diffoscope=False)
    assert rec.recipe.python_tag == "cp313" and rec.recipe.python.startswith("cpython-3.13")
    assert rec.grade == "reproducible", rec.reasons
    assert rec.builds[0].wheel_filename == "tinynew-0.1-cp313-cp313-manylinux_2_17_x86_64.whl"
    assert rec.builds[0].smoke == "ok"


def test_no_version_here_is_inconclusive_before_any_build(tmp_path, wheelhouse, zig_cache, sandbox) -> None:
    sd = sdists.requires_python_sdist(tmp_path, "tinyfuture", ">=3.14")
    recs = verify(sd, ("x86_64-linux-gnu.2.17", "aarch64-linux-gnu.2.17"), workdir=tmp_path / "w",
                  setup=_setup(wheelhouse, zig_cache, sandbox))
    assert [r.grade for r in recs] == ["inconclusive", "inconclusive"]
    assert recs[0].reasons == ["Requires-Python >=3.14 allows none of the CPython versions here (3.11, 3.13)"]
    assert all(r.builds == [] and r.recipe.build_deps == () for r in recs)
    assert not (tmp_path / "w" / "x86_64-linux-gnu.2.17").exists()  # no recipe was made, nothing built


def test_an_excluded_explicit_version_is_inconclusive(tmp_path, wheelhouse, zig_cache, sandbox) -> None:
    sd = sdists.requires_python_sdist(tmp_path, "tinyold", ">=3.12")
    (rec,) = verify(sd, workdir=tmp_path / "w", setup=_setup(wheelhouse, zig_cache, sandbox), python="3.11")
    assert rec.grade == "inconclusive" and rec.builds == []
    assert rec.reasons == ["Requires-Python >=3.12 excludes the requested CPython 3.11 (3.11, 3.13)"]
    recipe, res = rebuild(sd, workdir=tmp_path / "r", setup=_setup(wheelhouse, zig_cache, sandbox), python="3.11")
    assert not res.ok and res.infra_failure and res.failure == rec.reasons[0]
    assert recipe.python_tag == "cp311" and recipe.build_deps == ()


def test_a_macos_or_windows_build_for_3_13_is_inconclusive_before_any_build(tmp_path, wheelhouse, zig_cache,
                                                                            sandbox) -> None:
    sd = sdists.requires_python_sdist(tmp_path, "tinynewwin", ">=3.12")  # 3.13 it is; only 3.11 is set up there
    recs = verify(sd, ("x86_64-windows", "aarch64-macos"), workdir=tmp_path / "w",
                  setup=_setup(wheelhouse, zig_cache, sandbox))
    assert [r.grade for r in recs] == ["inconclusive", "inconclusive"]
    assert recs[0].reasons == ["no CPython 3.13 for Windows here (the pinned embeddable CPython and headers are 3.11)"]
    assert recs[1].reasons == ["no CPython 3.13 headers for macOS here (only 3.11 is configured)"]
    assert all(r.builds == [] and r.recipe.python_tag == "cp313" for r in recs)
