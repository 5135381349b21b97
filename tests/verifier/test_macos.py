"""macOS targets cross-built with zig from this Linux host: nothing runs them here, so the record says the
check was structural, against PyPI's wheel of the same version."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from verifier import BuildSetup, verify
from verifier.grading.structure import describe
from verifier.toolchain.targets import get_target

from . import sdists
from .conftest import CACHE
from .pypi import fetch_published_wheel, fetch_sdist

SYSROOTS = CACHE / "sysroots"
pytestmark = pytest.mark.slow


def test_a_c_sdist_for_arm64_macos_is_reproducible_signed_and_structural_only(tmp_path, wheelhouse, zig_cache,
                                                                            sandbox, warm_variations) -> None:
    (rec,) = verify(sdists.c_sdist(tmp_path, name="tinymac"), ["aarch64-macos"], workdir=tmp_path / "work",
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, sysroots=SYSROOTS),
                    variations=warm_variations, diffoscope=False)
    assert rec.grade == "reproducible", rec.reasons
    b = rec.builds[0]
    assert b.wheel_filename == f"tinymac-0.1-cp311-cp311-{get_target('aarch64-macos').platform_tag}.whl"
    assert b.ext_modules == ["tinymac._speed"] and b.auditwheel_policy is None
    assert (b.smoke or "").startswith("skipped: no runtime for aarch64-macos")
    assert rec.target_checks == ("not run on the target (no runtime for aarch64-macos on this host: checked "
                                 "structurally only); structure: no published wheel to compare with")
    assert rec.recipe.target_headers == "debian:python3.11_3.11.2.orig.tar.gz:configure --host=aarch64-apple-darwin"
    wheel = Path(b.log_path or "").parents[1] / "out" / (b.wheel_filename or "")
    with zipfile.ZipFile(wheel) as zf:
        info = describe(zf.read("tinymac/_speed.cpython-311-darwin.so"), "_speed.so")
    assert (info.format, info.arch, info.exports, info.libraries) == (
        "MachO", "aarch64", ("PyInit__speed",), ("/usr/lib/libSystem.B.dylib",))
    assert info.signed and info.min_os == "15.0" and "NOUNDEFS" not in info.flags
    assert {"PyLong_FromLong", "PyModule_Create2"} <= set(info.imported_symbols)  # bound by the interpreter


def test_markupsafe_for_x86_64_macos_matches_the_published_wheel_by_structure(tmp_path, wheelhouse, zig_cache,
                                                                             sandbox, warm_variations) -> None:
    published = fetch_published_wheel("markupsafe", "2.1.5", CACHE, platform="macosx_10_9_x86_64")
    assert published is not None
    (rec,) = verify(fetch_sdist("markupsafe", "2.1.5", CACHE), ["x86_64-macos"], workdir=tmp_path / "work",
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, sysroots=SYSROOTS),
                    variations=warm_variations[:1], diffoscope=False, published={"x86_64-macos": published})
    assert rec.grade == "reproducible", rec.reasons
    assert rec.builds[0].wheel_filename == "markupsafe-2.1.5-cp311-cp311-macosx_15_0_x86_64.whl"
    assert rec.structure is not None and all(c["ok"] for c in rec.structure["checks"]), rec.structure
    assert "structure against markupsafe-2.1.5-cp311-cp311-macosx_10_9_x86_64.whl" in (rec.target_checks or "").lower()
