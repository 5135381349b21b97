"""Build dependencies that cannot be had are the machine's failure (inconclusive); requirements that
contradict each other are the package's (broken). Real pip, real PyPI, real wheelhouses."""

from __future__ import annotations

import pytest

from verifier import BuildSetup, DependenciesUnavailable, make_recipe, verify

from . import sdists

pytestmark = pytest.mark.slow


def _sdist(tmp_path, name: str, requires: list[str]):  # type: ignore[no-untyped-def]
    reqs = ", ".join(f'"{r}"' for r in requires)
    return sdists.write_sdist(tmp_path, name, {
        "pyproject.toml": f'[build-system]\nrequires = [{reqs}]\nbuild-backend = "setuptools.build_meta"\n',
        "setup.py": f"from setuptools import setup\nsetup(name={name!r}, version='0.1')\n",
    })


def test_a_build_dependency_no_index_has_is_inconclusive(tmp_path, wheelhouse, sandbox) -> None:
    sd = _sdist(tmp_path, "tinymissing", ["setuptools", "casstore-no-such-build-dependency-7f3a"])
    (rec,) = verify(sd, workdir=tmp_path / "w", setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse))
    assert rec.grade == "inconclusive" and rec.builds == []
    assert "cannot download build dependencies" in rec.reasons[0]
    assert "casstore-no-such-build-dependency-7f3a" in rec.reasons[0]


def test_contradictory_build_requirements_are_broken(tmp_path, wheelhouse, sandbox) -> None:
    sd = _sdist(tmp_path, "tinyconflict", ["setuptools<60", "setuptools>=61"])
    (rec,) = verify(sd, workdir=tmp_path / "w", setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse))
    assert rec.grade == "broken" and rec.builds == []
    assert "contradict each other" in rec.reasons[0]


def test_offline_a_wheelhouse_without_them_is_not_the_packages_fault(tmp_path) -> None:
    sd = _sdist(tmp_path, "tinyoffline", ["setuptools>=40.8.0"])
    with pytest.raises(DependenciesUnavailable) as e:
        make_recipe(sd, "x86_64-linux-gnu.2.17", workdir=tmp_path / "w", online=False,
                    setup=BuildSetup(wheelhouse=tmp_path / "empty-wheelhouse"))
    assert not e.value.conflict and "cannot resolve build dependencies" in str(e.value)
