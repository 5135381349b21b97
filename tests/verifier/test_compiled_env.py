"""Projects that compile only when their build is asked to (mypyc, an optional Cython build): an
environment-only entry of native_projects.toml, applied to the build and to its requirements hook."""

from __future__ import annotations

import pytest

from verifier import BuildSetup, verify
from verifier.build.native import PROJECTS, hook_env, native_cause, native_env, native_inputs, needs_of
from verifier.record import Recipe
from verifier.toolchain.targets import get_target

from .conftest import CACHE
from .pypi import fetch_sdist

X86 = "x86_64-linux-gnu.2.17"


def test_env_only_entries_need_no_library_and_give_the_build_their_variables(tmp_path) -> None:
    mypy, charset = needs_of("mypy"), needs_of("charset_normalizer")
    assert mypy is not None and mypy.libraries == () and dict(mypy.env) == {"MYPY_USE_MYPYC": "1"}
    assert charset is not None and dict(charset.env)["CHARSET_NORMALIZER_USE_CYTHON"] == "1"
    got = native_inputs("charset_normalizer-3.5.3.tar.gz", get_target(X86), tmp_path, PROJECTS)
    assert got["inputs"] == () and got["build_env"] == charset.env
    recipe = Recipe("charset_normalizer-3.5.3.tar.gz", "00" * 32, "blake3:" + "33" * 32, X86, "cpython-3.11.7",
                    "cp311", "0.17.1", (), 1700000000, build_env=charset.env)
    assert native_cause(recipe) is None
    assert native_env(recipe, tmp_path) == dict(charset.env)  # no CPPFLAGS/PKG_CONFIG without libraries
    # the requirements hook: charset-normalizer's adds Cython under its env; mypy's setup.py would compile
    assert hook_env("charset_normalizer-3.5.3.tar.gz") == dict(charset.env)
    assert hook_env("mypy-2.4.1.tar.gz") == {} and hook_env("PyYAML-6.0.2.tar.gz") == {}


@pytest.mark.slow
def test_charset_normalizer_builds_its_cython_extensions(tmp_path, wheelhouse, zig_cache, sandbox,
                                                        warm_variations) -> None:
    sdist = fetch_sdist("charset-normalizer", "3.5.3", CACHE)
    (rec,) = verify(sdist, workdir=tmp_path, variations=warm_variations, diffoscope=False,
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache))
    assert rec.grade == "reproducible", rec.reasons
    assert "Cython" in {p.name for p in rec.recipe.build_deps}  # added by the backend's hook under the env
    assert rec.builds[0].ext_modules == ["charset_normalizer.cd", "charset_normalizer.md"]
    assert rec.builds[0].wheel_filename == "charset_normalizer-3.5.3-cp311-cp311-manylinux_2_17_x86_64.whl"
