"""verifier.build.kind on small synthetic trees: backend and languages, label, cannot_build."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.build.kind import NO_FORTRAN, NO_RUST, build_kind, detect


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        f = root / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return root


def test_legacy_setup_py_is_setuptools_c(tmp_path: Path) -> None:
    k = detect(_tree(tmp_path, {"setup.py": "from setuptools import setup\n", "src/m.c": ""}))
    assert (k.backend, k.languages, k.cannot_build) == ("setuptools", frozenset({"c"}), None)
    assert k.label == "setuptools + C"


def test_meson_cython_cxx(tmp_path: Path) -> None:
    pp = '[build-system]\nrequires = ["meson-python", "Cython"]\nbuild-backend = "mesonpy"\n'
    k = detect(_tree(tmp_path, {"pyproject.toml": pp, "meson.build": "project('x', 'c', 'cpp')\n",
                                "x/_a.pyx": "", "x/b.cpp": "", "x/c.c": ""}))
    assert k.label == "meson-python + Cython + C++ + C"
    assert k.cannot_build is None


def test_meson_fortran_language_is_fortran(tmp_path: Path) -> None:
    pp = '[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n'
    k = detect(_tree(tmp_path, {"pyproject.toml": pp, "meson.build": "project('s', 'c')\nadd_languages('fortran')\n"}))
    assert "fortran" in k.languages and k.cannot_build == NO_FORTRAN


def test_vendored_meson_test_cases_are_not_the_projects_languages(tmp_path: Path) -> None:
    # numpy's sdist carries its vendored meson with meson's own Fortran test cases; numpy compiles no Fortran
    pp = '[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n'
    k = detect(_tree(tmp_path, {"pyproject.toml": pp, "meson.build": "project('n', 'c', 'cpp', 'cython')\n",
                                "numpy/_core/a.c": "",
                                "vendored-meson/meson/test cases/fortran/1 basic/simple.f90": ""}))
    assert "fortran" not in k.languages and k.cannot_build is None


def test_fortran_sources_outside_tests(tmp_path: Path) -> None:
    k = detect(_tree(tmp_path, {"setup.py": "", "lib/a.f90": ""}))
    assert k.cannot_build == NO_FORTRAN
    k2 = detect(_tree(tmp_path / "t", {"setup.py": "", "tests/a.f90": ""}))
    assert k2.cannot_build is None


@pytest.mark.parametrize("pp", [
    '[build-system]\nrequires = ["maturin>=1"]\nbuild-backend = "maturin"\n',
    '[build-system]\nrequires = ["setuptools", "setuptools-rust"]\nbuild-backend = "setuptools.build_meta"\n',
])
def test_rust_cannot_build(tmp_path: Path, pp: str) -> None:
    k = detect(_tree(tmp_path, {"pyproject.toml": pp, "Cargo.toml": "[package]\n", "src/lib.rs": ""}))
    assert "rust" in k.languages
    assert k.cannot_build is not None and k.cannot_build.startswith("Rust toolchain or crates unavailable")
    assert k.cannot_build == NO_RUST


def test_bundled_cargo_toml_is_not_rust(tmp_path: Path) -> None:
    k = detect(_tree(tmp_path, {"setup.py": "", "tools/x/Cargo.toml": "", "m.c": ""}))
    assert "rust" not in k.languages


def test_unknown_backend_names_it(tmp_path: Path) -> None:
    pp = '[build-system]\nrequires = ["whatever"]\nbuild-backend = "whatever.api"\n'
    k = detect(_tree(tmp_path, {"pyproject.toml": pp}))
    assert not k.known_backend
    assert k.cannot_build is not None and "'whatever.api'" in k.cannot_build and "\n" not in k.cannot_build


def test_pure_hatchling(tmp_path: Path) -> None:
    pp = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    k = detect(_tree(tmp_path, {"pyproject.toml": pp, "p/__init__.py": ""}))
    assert (k.label, k.cannot_build) == ("hatchling (pure)", None)


def test_mypyc(tmp_path: Path) -> None:
    k = build_kind(["setup.py", "p/a.py"], {"build-system": {"requires": ["setuptools", "mypy==1.0"]}},
                   ["from mypyc.build import mypycify\n"])
    assert "mypyc" in k.languages


@pytest.mark.parametrize(("files", "cause"), [
    ({"pyproject.toml": '[build-system]\nrequires = ["maturin"]\nbuild-backend = "maturin"\n',
      "Cargo.toml": "[package]\n", "src/lib.rs": ""}, "Rust toolchain or crates unavailable"),
    ({"setup.py": "from setuptools import setup\nsetup()\n", "x/a.f90": ""}, "no Fortran compiler in the zig toolchain"),
    ({"pyproject.toml": '[build-system]\nrequires = ["nope"]\nbuild-backend = "nope.api"\n'},
     "unknown build backend 'nope.api'"),
])
def test_verify_is_inconclusive_before_any_build(tmp_path: Path, files: dict[str, str], cause: str) -> None:
    from tests.verifier.sdists import write_sdist
    from verifier import verify

    sdist = write_sdist(tmp_path / "in", "kindx", files)
    work = tmp_path / "work"
    (rec,) = verify(sdist, workdir=work, diffoscope=False)
    assert rec.grade == "inconclusive" and rec.reasons[0].startswith(cause)
    assert rec.builds == [] and rec.recipe.build_deps == ()
    assert rec.build_kind is not None
    assert not any(work.rglob("*")) or [p.name for p in work.iterdir()] == []  # no partial files


def test_in_tree_backend_wrapping_setuptools_is_known(tmp_path: Path) -> None:
    pp = ('[build-system]\nrequires = ["expandvars", "setuptools >= 47"]\nbackend-path = ["packaging"]\n'
          'build-backend = "pep517_backend.hooks"\n')
    k = detect(_tree(tmp_path, {"pyproject.toml": pp, "frozenlist/_frozenlist.pyx": ""}))
    assert (k.backend, k.cannot_build) == ("setuptools", None)


def test_cached_real_sdists(tmp_path: Path) -> None:
    """The sdists tests/verifier keeps under .cache/sdists (the ones there are built elsewhere in the suite)."""
    from verifier.grading.unbuildable import kind_of

    cache = Path(__file__).resolve().parents[2] / ".cache" / "sdists"
    want = {"MarkupSafe-2.1.5.tar.gz": "setuptools + C", "frozenlist-1.5.0.tar.gz": "setuptools + Cython",
            "msgpack-1.1.0.tar.gz": "setuptools + Cython + C", "ujson-5.10.0.tar.gz": "setuptools + C++ + C"}
    have = {n: kind_of(cache / n, tmp_path).label for n in want if (cache / n).is_file()}
    if not have:
        pytest.skip("no cached sdists")
    assert have == {n: want[n] for n in have}
