"""meson-python builds through the generated cross file: a real sdist (contourpy: meson + pybind11 + C++) rebuilt
for x86_64 and imported, and a meson build that fails graded broken with the failure in its record."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier import BuildSetup, rebuild, verify

from .conftest import CACHE
from .pypi import fetch_sdist
from .sdists import write_sdist

pytestmark = pytest.mark.slow

MESON_PYPROJECT = ('[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n\n'
                   '[project]\nname = "{name}"\nversion = "0.1"\n')


def test_contourpy_rebuilds_with_the_meson_cross_file_and_imports(tmp_path: Path, wheelhouse, zig_cache,
                                                                  sandbox) -> None:
    sdist = fetch_sdist("contourpy", "1.3.3", CACHE)  # 1.4 needs Python >= 3.12; the host's is 3.11
    setup = BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache)
    _, res = rebuild(sdist, "x86_64-linux-gnu.2.17", workdir=tmp_path, setup=setup)
    assert res.ok, (res.failure, res.log)
    assert res.smoke == "ok" and res.ext_modules == ["contourpy._contourpy"]
    assert res.wheel is not None and res.wheel.name.endswith("-cp311-cp311-manylinux_2_17_x86_64.whl")
    assert res.auditwheel_policy == "manylinux_2_17_x86_64"
    log = res.log.read_text() if res.log else ""
    # meson took the host code's compiler from the cross file (the zig wrapper), not from the build machine
    assert "Build type: cross build" in log
    assert f"C++ compiler for the host machine: {res.root}/bin/c++ (clang" in log


def test_a_failing_meson_build_is_graded_broken_with_its_reason(tmp_path: Path, wheelhouse, zig_cache, sandbox,
                                                                warm_variations) -> None:
    sdist = write_sdist(tmp_path / "in", "badmeson", {
        "pyproject.toml": MESON_PYPROJECT.format(name="badmeson"),
        "meson.build": "project('badmeson', 'c')\nerror('this project does not configure')\n",
        "m.c": "",
    })
    (rec,) = verify(sdist, workdir=tmp_path / "w", variations=warm_variations,
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache))
    assert rec.grade == "broken", rec.reasons
    assert rec.build_kind == "meson-python + C"
    assert all(b.failure == "build failed with exit code 1" and not b.infra_failure for b in rec.builds)
    assert "this project does not configure" in Path(str(rec.builds[0].log_path)).read_text()
