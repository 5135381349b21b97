"""Native libraries (issue 15, item 4): the tables (pure), recipes that name inputs, eviction's rule for
inputs (pure), one library's reproducible build, pyyaml rebuilt with `_yaml`, and the store keeping a
recipe's input alive through gc, eviction and a rebuild that uses it."""

from __future__ import annotations

import dataclasses
import shutil
import tarfile
from pathlib import Path

import pytest

from casstore import Digest, open_store
from casstore.cache.policy import eligibility
from tests.verifier.conftest import CACHE
from verifier import BuildSetup, VerificationRecord, rebuild, verify
from verifier.build.native import (
    PROJECTS,
    input_owner,
    keep_inputs,
    load_projects,
    missing_recipe,
    native_cause,
    native_env,
    needs_of,
    project_of,
)
from verifier.errors import VerifierError
from verifier.record import Input, Pin, Recipe
from verifier.toolchain.nativelib import LIBRARIES, ensure_library, load_libraries, pack_prefix

from .pypi import fetch_published_wheel, fetch_sdist

X86 = "x86_64-linux-gnu.2.17"
ARM = "aarch64-linux-gnu.2.17"
YAML = Input("libyaml", "0.2.5", "debian:libyaml_0.2.5.orig.tar.gz", "fa" * 32, "blake3:" + "ab" * 32, "blake3:" + "cd" * 32)


def recipe(sdist: str, inputs: tuple[Input, ...] = (), build_env: tuple[tuple[str, str], ...] = ()) -> Recipe:
    pin = Pin("setuptools", "75.0", "setuptools-75.0-py3-none-any.whl", "11" * 32, "blake3:" + "22" * 32)
    return Recipe(sdist, "00" * 32, "blake3:" + "33" * 32, X86, "cpython-3.11.7", "cp311", "0.17.1", (pin,), 1700000000,
                  inputs=inputs, build_env=build_env)


# -- the tables (pure) ------------------------------------------------------------------------------


def test_the_project_table_names_libraries_and_how_the_build_finds_them() -> None:
    assert project_of("PyYAML-6.0.2.tar.gz") == "pyyaml" and project_of("google_crc32c-1.7.1.tar.gz") == "google-crc32c"
    pyyaml = needs_of("PyYAML")
    assert pyyaml is not None and pyyaml.libraries == ("libyaml",)
    assert dict(pyyaml.env) == {"PYYAML_FORCE_LIBYAML": "1"}
    lxml = needs_of("lxml")
    assert lxml is not None and set(lxml.libraries) == {"libxml2", "libxslt", "zlib"}
    assert dict(lxml.env)["WITH_XSLT_CONFIG"] == "{libxslt}/bin/xslt-config"
    assert needs_of("markupsafe") is None
    pillow = needs_of("Pillow")
    assert pillow is not None and pillow.config_settings == ("platform-guessing=disable",)
    assert pillow.ldflags == ("-lpng16", "-lz")  # what the static freetype needs besides -lfreetype
    # every library a project names either has a recipe or is reported as missing one
    for needs in PROJECTS.values():
        for lib in needs.libraries:
            assert lib in LIBRARIES or missing_recipe(needs.project) is not None


def test_a_library_without_a_recipe_is_a_one_line_cause() -> None:
    assert missing_recipe("psycopg2") == "needs native library libpq; no recipe"
    assert missing_recipe("google-crc32c") == "needs native library crc32c; no recipe"
    assert missing_recipe("psycopg2-binary") == "needs native library libpq; no recipe"
    assert missing_recipe("matplotlib") == "needs native library qhull; no recipe"
    assert missing_recipe("cffi") is None and missing_recipe("pillow") is None  # libffi, freetype... have recipes
    assert missing_recipe("pyyaml") is None and missing_recipe("markupsafe") is None
    assert native_cause(recipe("psycopg2-2.9.10.tar.gz")) == "needs native library libpq; no recipe"
    # a library with a recipe that did not build: the recipe then has no input for it
    assert native_cause(recipe("PyYAML-6.0.2.tar.gz")) == (
        f"native library libyaml did not build for {X86}; no input in the recipe")
    assert native_cause(recipe("PyYAML-6.0.2.tar.gz", (YAML,))) is None
    assert native_cause(recipe("MarkupSafe-2.1.5.tar.gz")) is None


def test_tables_refuse_what_they_cannot_mean() -> None:
    good = '[a]\nversion="1"\ndebian="a"\norig="a.tar.gz"\nsha256="' + "0" * 64 + '"\nsystem="cmake"\n'
    assert load_libraries(good)["a"].source == "debian:a.tar.gz"
    with pytest.raises(VerifierError, match="sha256"):
        load_libraries(good.replace("0" * 64, "0" * 63))
    with pytest.raises(VerifierError, match="build system"):
        load_libraries(good.replace('"cmake"', '"scons"'))
    with pytest.raises(VerifierError, match="no recipe"):
        load_libraries(good + 'requires=["b"]\n')
    with pytest.raises(VerifierError, match="unknown fields"):
        load_projects('[x]\nlibraries=["a"]\nlibs="a"\n')


def test_recipes_name_their_inputs_and_old_recipes_keep_their_digests() -> None:
    plain = recipe("MarkupSafe-2.1.5.tar.gz")
    assert "inputs" not in plain.to_json() and "build_env" not in plain.to_json()
    with_yaml = recipe("PyYAML-6.0.2.tar.gz", (YAML,), (("PYYAML_FORCE_LIBYAML", "1"),))
    d = with_yaml.to_json()
    assert d["inputs"] == [{"name": "libyaml", "version": "0.2.5", "source": "debian:libyaml_0.2.5.orig.tar.gz",
                            "source_sha256": "fa" * 32, "blake3": "blake3:" + "ab" * 32, "build": "blake3:" + "cd" * 32}]
    assert d["build_env"] == {"PYYAML_FORCE_LIBYAML": "1"} and "config_settings" not in d
    assert Recipe.from_json(d) == with_yaml and Recipe.from_json(plain.to_json()) == plain
    pil = dataclasses.replace(plain, config_settings=("platform-guessing=disable",))
    assert pil.to_json()["config_settings"] == ["platform-guessing=disable"] and Recipe.from_json(pil.to_json()) == pil
    assert with_yaml.digest != dataclasses.replace(with_yaml, inputs=()).digest


def test_eviction_needs_every_input_present() -> None:
    rec = recipe("PyYAML-6.0.2.tar.gz", (YAML,)).to_json()
    records = [{"recipe_digest": "blake3:" + "44" * 32, "grade": "reproducible", "recipe": rec,
                "builds": [{"wheel_blake3": "blake3:w"}, {"wheel_blake3": "blake3:w"}]}]
    files = {rec["sdist_blake3"], rec["build_deps"][0]["blake3"]}
    e = eligibility("w.whl", "blake3:w", records, present=files.__contains__, toolchain=lambda _r: None,
                    input_present=lambda _d: False)
    assert not e.evictable and e.reason == "inputs not in the store: libyaml 0.2.5"
    e = eligibility("w.whl", "blake3:w", records, present=files.__contains__, toolchain=lambda _r: None,
                    input_present=lambda d: d == YAML.blake3)
    assert e.evictable


def test_native_env_unpacks_checked_inputs_and_points_the_build_at_them(tmp_path: Path) -> None:
    prefix = tmp_path / "p"
    (prefix / "include").mkdir(parents=True)
    (prefix / "include" / "yaml.h").write_text("/* */\n")
    (tmp_path / "natives" / "archives").mkdir(parents=True)
    digest = pack_prefix(prefix, tmp_path / "t.tar", 0)
    shutil.move(tmp_path / "t.tar", tmp_path / "natives" / "archives" / f"{digest.removeprefix('blake3:')}.tar")
    yaml = dataclasses.replace(YAML, blake3=digest)
    r = recipe("PyYAML-6.0.2.tar.gz", (yaml,), (("PYYAML_FORCE_LIBYAML", "1"), ("YAML_H", "{libyaml}/include/yaml.h")))
    env = native_env(r, tmp_path / "root", tmp_path / "natives")
    lib = tmp_path / "root" / "native" / "libyaml"
    assert (lib / "include" / "yaml.h").is_file()
    assert env["CPPFLAGS"] == f"-I{lib / 'include'}" and env["LDFLAGS"] == f"-L{lib / 'lib'}"
    assert env["YAML_H"] == f"{lib}/include/yaml.h" and env["PYYAML_FORCE_LIBYAML"] == "1"
    assert env["PKG_CONFIG_LIBDIR"] == str(lib / "lib" / "pkgconfig")
    with pytest.raises(VerifierError, match="not in"):  # an input the recipe names but nobody has
        native_env(recipe("PyYAML-6.0.2.tar.gz", (YAML,)), tmp_path / "root2", tmp_path / "natives")


def test_packed_prefixes_are_deterministic(tmp_path: Path) -> None:
    digests = []
    for n, name in enumerate(("a", "bb/longer")):
        p = tmp_path / name
        (p / "lib").mkdir(parents=True)
        (p / "lib" / "libx.a").write_bytes(b"!<arch>\n")
        (p / "lib" / "libx.a").chmod(0o600 if n else 0o664)
        digests.append(pack_prefix(p, tmp_path / f"{n}.tar", 1234))
    assert digests[0] == digests[1]
    with tarfile.open(tmp_path / "0.tar") as tf:
        assert [(m.name, m.mtime, m.uid, m.mode) for m in tf.getmembers()] == [
            ("lib", 1234, 0, 0o755), ("lib/libx.a", 1234, 0, 0o644)]


# -- real builds ------------------------------------------------------------------------------------


def _cache_with_sources(tmp: Path) -> Path:
    """A fresh library cache, seeded with the source tarballs already fetched (else fetched from Debian)."""
    cache = tmp / "nativelibs"
    (cache / "src").mkdir(parents=True)
    for f in (CACHE / "nativelibs" / "src").glob("*.orig.tar.*"):
        shutil.copyfile(f, cache / "src" / f.name)
    return cache


@pytest.mark.slow
def test_libyaml_builds_twice_bit_identically(tmp_path: Path) -> None:
    built = ensure_library("libyaml", X86, _cache_with_sources(tmp_path))
    assert built.grade == "reproducible", built.stamp["differing"]
    a, b = built.stamp["builds"]
    assert a["root"] != b["root"] and a["blake3"] == b["blake3"] == built.input.blake3
    with tarfile.open(built.archive) as tf:
        names = set(tf.getnames())
        pc = tf.extractfile("lib/pkgconfig/yaml-0.1.pc").read().decode()  # type: ignore[union-attr]
    assert {"include/yaml.h", "lib/libyaml.a"} <= names and not any(".so" in n for n in names)
    assert "prefix=${pcfiledir}/../.." in pc and str(tmp_path) not in pc
    assert built.input.source_sha256 == LIBRARIES["libyaml"].sha256


@pytest.fixture(scope="module")
def pyyaml() -> Path:
    return fetch_sdist("pyyaml", "6.0.4", CACHE)


def published_pyyaml(target: str) -> Path:
    """PyPI's pyyaml 6.0.4 wheel for cp311 on `target`'s architecture (cached; else fetched)."""
    arch = target.split("-")[0]
    cached = sorted((CACHE / "coverage" / "published").glob(f"pyyaml-6.0.4-cp311-cp311-*manylinux_2_17_{arch}*.whl"))
    wheel = cached[0] if cached else fetch_published_wheel("pyyaml", "6.0.4", CACHE, f"manylinux_2_17_{arch}")
    assert wheel is not None, "no published pyyaml 6.0.4 wheel"
    return wheel


@pytest.mark.slow
def test_pyyaml_rebuilds_with_its_libyaml_extension(pyyaml: Path, tmp_path: Path, wheelhouse: Path,
                                                    zig_cache: Path, warm_variations) -> None:
    target = ARM  # x86_64 is built (reproducible, with libyaml) by the store test below
    pub = published_pyyaml(target)
    (rec,) = verify(pyyaml, [target], workdir=tmp_path, setup=BuildSetup(wheelhouse=wheelhouse, zig_cache=zig_cache),
                    diffoscope=False, published={target: pub}, variations=warm_variations)
    assert rec.grade == "reproducible", rec.reasons
    assert all(b.ext_modules == ["yaml._yaml"] and b.smoke == "ok" for b in rec.builds)
    # compared with the real published wheel: the same extension module, none missing
    assert rec.modules is not None and rec.modules.published == ["yaml._yaml"] and rec.modules.missing == []
    assert rec.modules.summary == f"the same 1 extension module(s) as {pub.name}"
    (libyaml,) = rec.recipe.inputs
    assert (libyaml.name, libyaml.version) == ("libyaml", "0.2.5")
    assert dict(rec.recipe.build_env) == {"PYYAML_FORCE_LIBYAML": "1"}


@pytest.mark.slow
def test_the_store_keeps_a_recipes_input_through_gc_eviction_and_rebuild(
        pyyaml: Path, tmp_path: Path, wheelhouse: Path, zig_cache: Path, warm_variations) -> None:
    from verifier import keep_build_deps, keep_records
    from verifier.plugin.rebuilder import zig_rebuilder

    store = open_store(tmp_path / "store", rebuilder=zig_rebuilder(tmp_path / "store"))
    store.put(pyyaml)
    (rec,) = verify(pyyaml, [X86], workdir=tmp_path / "work", store=store, diffoscope=False,  # type: ignore[arg-type]
                    setup=BuildSetup(wheelhouse=wheelhouse, zig_cache=zig_cache), variations=warm_variations)
    assert rec.grade == "reproducible", rec.reasons
    wheel = next(b for b in rec.builds if b.wheel_filename)
    keep_build_deps(store, rec.recipe, wheelhouse)
    store.put(next((tmp_path / "work").rglob(wheel.wheel_filename or "")), origin="rebuilt")
    keep_records(store, [rec])
    (libyaml,) = rec.recipe.inputs
    digest = libyaml.blake3.removeprefix("blake3:")
    assert input_owner(rec.recipe) in store.catalog.owners_of(digest)

    store.gc(grace=-1)  # nothing but the recipe's owner holds the input: it stays
    assert store.get_blob(Digest.parse(libyaml.blake3))
    cache = store.reviver
    assert cache is not None
    e = cache.evictable(wheel.wheel_filename)  # type: ignore[attr-defined]
    assert e.evictable, e.reason
    original = store.get(wheel.wheel_filename or "")
    assert cache.evict([wheel.wheel_filename]).evicted  # type: ignore[attr-defined]
    store.gc(grace=-1)
    assert store.info(wheel.wheel_filename or "").state == "evicted"
    assert store.objects.exists(Digest.parse(libyaml.blake3))
    # the rebuild takes the input from the store alone: its export lands in the rebuilder's work dir
    assert store.get(wheel.wheel_filename or "") == original
    exported = list((tmp_path / "store" / "rebuild").rglob(f"natives/archives/{digest}.tar"))
    assert exported, "the rebuild did not export the input from the store"

    # without the input in the store the wheel would not be evictable
    assert store.unpin(input_owner(rec.recipe)) == 1
    again = cache.evictable(wheel.wheel_filename)  # type: ignore[attr-defined]
    assert not again.evictable and "inputs not in the store: libyaml 0.2.5" in again.reason
    keep_inputs(store, rec.recipe)
    assert VerificationRecord.loads(rec.dumps()).recipe == rec.recipe



@pytest.mark.slow
def test_a_project_needing_a_library_without_recipe_is_inconclusive_with_that_cause(
        tmp_path: Path, wheelhouse: Path, zig_cache: Path) -> None:
    from .sdists import c_sdist

    sdist = c_sdist(tmp_path / "src", name="psycopg2")  # the table says psycopg2 needs libpq (no recipe)
    (rec,) = verify(sdist, [X86], workdir=tmp_path / "w", diffoscope=False,
                    setup=BuildSetup(wheelhouse=wheelhouse, zig_cache=zig_cache))
    assert rec.grade == "inconclusive"
    assert all(b.failure == "needs native library libpq; no recipe" and b.infra_failure for b in rec.builds)
    assert any("needs native library libpq; no recipe" in r for r in rec.reasons)
    assert rec.recipe.inputs == ()
    assert rec.modules is not None and rec.modules.summary == "not compared with a published wheel"


_PROBE = r"""
#include <Python.h>
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_probe", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__probe(void) { return PyModule_Create(&mod); }
"""

_YAML = r"""
#include <Python.h>
#include <yaml.h>
static PyObject *version(PyObject *self, PyObject *args) { return PyUnicode_FromString(yaml_get_version_string()); }
static PyMethodDef methods[] = {{"version", version, METH_NOARGS, "version"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_yaml", NULL, -1, methods};
PyMODINIT_FUNC PyInit__yaml(void) { return PyModule_Create(&mod); }
"""


def optional_yaml_sdist(dest: Path) -> Path:
    """A `pyyaml` sdist (so the table gives it libyaml) whose `yaml._yaml` is optional, as in PyYAML's own
    setup.py: skipped when libyaml is not there; `yaml._probe` is always built, so the wheel is a platform
    wheel with an extension module either way."""
    from .sdists import PYPROJECT, write_sdist

    setup = ("from setuptools import setup, Extension\n"
             "setup(name='pyyaml', version='0.1', packages=['yaml'], ext_modules=["
             "Extension('yaml._probe', ['yaml/_probe.c']),"
             "Extension('yaml._yaml', ['yaml/_yaml.c'], libraries=['yaml'], optional=True)])\n")
    return write_sdist(dest, "pyyaml", {"pyproject.toml": PYPROJECT, "setup.py": setup, "yaml/__init__.py": "",
                                        "yaml/_probe.c": _PROBE, "yaml/_yaml.c": _YAML})


@pytest.mark.slow
def test_a_rebuild_lacking_the_published_wheels_libyaml_module_is_broken(
        tmp_path: Path, wheelhouse: Path, zig_cache: Path, warm_variations) -> None:
    sdist = optional_yaml_sdist(tmp_path / "src")
    pub = published_pyyaml(X86)  # PyPI's pyyaml wheel: it has yaml._yaml
    without = {k: v for k, v in PROJECTS.items() if k != "pyyaml"}  # the table without pyyaml's libyaml
    (rec,) = verify(sdist, [X86], workdir=tmp_path / "without", diffoscope=False, published={X86: pub},
                    setup=BuildSetup(wheelhouse=wheelhouse, zig_cache=zig_cache, native_projects=without),
                    variations=warm_variations)
    assert rec.recipe.inputs == ()
    assert all(b.ok and b.ext_modules == ["yaml._probe"] for b in rec.builds)  # the builds themselves pass
    assert rec.grade == "broken"
    assert rec.reasons[0] == f"the rebuilt wheel lacks extension modules {pub.name} has: yaml._yaml"
    assert rec.modules is not None and rec.modules.missing == ["yaml._yaml"] and rec.modules.extra == ["yaml._probe"]

    (rec,) = verify(sdist, [X86], workdir=tmp_path / "with", diffoscope=False, published={X86: pub},
                    setup=BuildSetup(wheelhouse=wheelhouse, zig_cache=zig_cache), variations=warm_variations)
    assert [i.name for i in rec.recipe.inputs] == ["libyaml"]
    assert all(b.ext_modules == ["yaml._probe", "yaml._yaml"] and b.smoke == "ok" for b in rec.builds)
    assert rec.grade in ("reproducible", "repeatable"), rec.reasons
    assert rec.modules is not None and rec.modules.missing == [] and rec.modules.extra == ["yaml._probe"]
    assert rec.reasons[-1].endswith("more: yaml._probe (noted, not broken)")


@pytest.mark.slow
def test_pillow_links_its_static_freetype_with_the_tables_ldflags(tmp_path: Path, wheelhouse: Path,
                                                                  zig_cache: Path) -> None:
    sdist = fetch_sdist("pillow", "13.0.0", CACHE)  # one build: the point is the link, not the grade
    recipe, res = rebuild(sdist, X86, workdir=tmp_path, setup=BuildSetup(wheelhouse=wheelhouse, zig_cache=zig_cache))
    assert recipe.ldflags == "-lpng16 -lz"
    assert res.ok, (res.failure, res.log)
    # the smoke test imported every one of them; _imagingft needs the table's -lpng16 -lz to link at all
    assert {"PIL._imaging", "PIL._imagingft"} <= set(res.ext_modules) and res.smoke == "ok"


@pytest.mark.slow
def test_cffi_builds_with_libffi_and_has_the_published_wheels_module(tmp_path: Path, wheelhouse: Path,
                                                                     zig_cache: Path, warm_variations) -> None:
    sdist = fetch_sdist("cffi", "2.1.1", CACHE)
    pub = fetch_published_wheel("cffi", "2.1.1", CACHE, "manylinux_2_17_x86_64")
    assert pub is not None
    (rec,) = verify(sdist, [X86], workdir=tmp_path, diffoscope=False, published={X86: pub},
                    setup=BuildSetup(wheelhouse=wheelhouse, zig_cache=zig_cache), variations=warm_variations)
    assert [i.name for i in rec.recipe.inputs] == ["libffi"]
    assert rec.grade in ("reproducible", "repeatable"), rec.reasons
    assert all(b.ext_modules == ["_cffi_backend"] and b.smoke == "ok" for b in rec.builds)
    assert rec.modules is not None and rec.modules.missing == [] and rec.modules.published == ["_cffi_backend"]
