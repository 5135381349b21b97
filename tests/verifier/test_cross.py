"""Cross-target rebuilds from this x86_64 host: graded per target, smoke-imported on the target's own
Debian CPython under qemu-user (glibc targets) or the musl CPython built here (musl targets). Sysroots are
fetched (built) once by the code into .cache/sysroots."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from verifier import BuildSetup, verify
from verifier.toolchain.elf import needed

from . import sdists
from .conftest import CACHE
from .pypi import fetch_sdist

pytestmark = pytest.mark.slow

SYSROOTS = CACHE / "sysroots"
needs_qemu = pytest.mark.skipif(shutil.which("qemu-aarch64-static") is None,
                                reason="Debian package qemu-user-static missing")


def _one(sdist: Path, target: str, tmp_path: Path, wheelhouse, zig_cache, sandbox, variations):
    (rec,) = verify(sdist, [target], workdir=tmp_path / "work",
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, sysroots=SYSROOTS),
                    variations=variations, diffoscope=False)
    return rec


def _so(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith(".so")))


@needs_qemu
def test_aarch64_glibc_is_reproducible_and_imports_under_qemu(tmp_path, wheelhouse, zig_cache, sandbox,
                                                               warm_variations) -> None:
    rec = _one(sdists.c_sdist(tmp_path, name="tinyarm"), "aarch64-linux-gnu.2.17", tmp_path, wheelhouse, zig_cache,
               sandbox, warm_variations)
    assert rec.grade == "reproducible", rec.reasons
    b = rec.builds[0]
    assert b.wheel_filename == "tinyarm-0.1-cp311-cp311-manylinux_2_17_aarch64.whl"
    assert b.ext_modules == ["tinyarm._speed"]  # found by the aarch64 EXT_SUFFIX
    assert b.auditwheel_policy == "manylinux_2_17_aarch64"
    assert b.smoke == "ok"
    log = Path(b.log_path or "").read_text()
    assert "qemu-aarch64-static" in log and "OK tinyarm._speed" in log
    assert rec.recipe.target_headers.startswith("debian:libpython3.11-dev_")


@needs_qemu
def test_cxx_for_aarch64(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    rec = _one(sdists.cxx_sdist(tmp_path, name="tinyarmxx"), "aarch64-linux-gnu.2.17", tmp_path, wheelhouse,
               zig_cache, sandbox, warm_variations[:1])
    assert rec.grade == "reproducible", rec.reasons
    assert rec.builds[0].smoke == "ok"


@pytest.mark.parametrize("target", ["x86_64-linux-musl", "aarch64-linux-musl"])
def test_musl_needs_libc_musl_and_auditwheel_agrees(target, tmp_path, wheelhouse, zig_cache, sandbox,
                                                    warm_variations) -> None:
    arch = target.split("-")[0]
    uses_libc = '#include <stdio.h>\n#define STAMP "fixed"\nint tiny_fmt(char *b, long n) { return snprintf(b, 8, "%ld", n); }'
    rec = _one(sdists.c_sdist(tmp_path, name="tinymusl", extra=uses_libc), target, tmp_path, wheelhouse, zig_cache, sandbox,
               warm_variations)
    assert rec.grade == "reproducible", rec.reasons  # the patchelf fix-up is deterministic
    b = rec.builds[0]
    assert b.wheel_filename == f"tinymusl-0.1-cp311-cp311-musllinux_1_2_{arch}.whl"
    assert b.auditwheel_policy == f"musllinux_1_2_{arch}"
    wheel = Path(b.log_path or "").parents[1] / "out" / (b.wheel_filename or "")
    deps = needed(_so(wheel))
    assert f"libc.musl-{arch}.so.1" in deps and "libc.so" not in deps
    assert b.smoke == "ok"  # imported by the musl CPython built here (toolchain/muslpython.py), under qemu for aarch64
    assert "OK tinymusl._speed" in Path(b.log_path or "").read_text()


@needs_qemu
@pytest.mark.parametrize("target", ["arm-linux-gnueabihf.2.17", "powerpc64le-linux-gnu.2.19", "s390x-linux-gnu.2.17"])
def test_more_architectures_import_under_qemu(target, tmp_path, wheelhouse, zig_cache, sandbox,
                                              warm_variations) -> None:
    rec = _one(sdists.c_sdist(tmp_path, name="tinymore"), target, tmp_path, wheelhouse, zig_cache, sandbox,
               warm_variations[:1])
    assert rec.grade == "reproducible", rec.reasons
    assert rec.builds[0].smoke == "ok"


@needs_qemu
def test_markupsafe_for_aarch64(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    sdist = fetch_sdist("markupsafe", "2.1.5", CACHE)
    rec = _one(sdist, "aarch64-linux-gnu.2.17", tmp_path, wheelhouse, zig_cache, sandbox, warm_variations)
    assert rec.grade == "reproducible", (rec.reasons, rec.explanation)
    b = rec.builds[0]
    assert (b.wheel_filename or "").lower() == "markupsafe-2.1.5-cp311-cp311-manylinux_2_17_aarch64.whl"
    assert b.ext_modules == ["markupsafe._speedups"] and b.smoke == "ok"
    assert b.auditwheel_policy == "manylinux_2_17_aarch64"
