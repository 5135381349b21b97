"""End-to-end: generated C and C++ sdists rebuilt with zig, graded, explained."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from verifier import (
    VARIATIONS,
    BuildSetup,
    Grade,
    InvalidSdist,
    Sandbox,
    Variation,
    VerificationRecord,
    make_recipe,
    rebuild,
    verify,
)

from . import sdists

pytestmark = pytest.mark.slow


def _verify(sdist: Path, tmp_path: Path, wheelhouse: Path, zig_cache: Path, sandbox: Sandbox,
            variations: tuple[Variation, ...], **kw: object) -> VerificationRecord:
    (rec,) = verify(sdist, workdir=tmp_path / "work",
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache),
                    variations=variations, **kw)  # type: ignore[arg-type]
    return rec


def test_c_extension_is_reproducible_cold_and_warm(tmp_path, wheelhouse, zig_cache, sandbox) -> None:
    rec = _verify(sdists.c_sdist(tmp_path), tmp_path, wheelhouse, zig_cache, sandbox,
                  variations=VARIATIONS)
    assert rec.grade == "reproducible", rec.reasons
    a, b = rec.builds
    assert a.wheel_blake3 == b.wheel_blake3 and a.variation != b.variation
    assert a.wheel_filename == "tinyc-0.1-cp311-cp311-manylinux_2_17_x86_64.whl"
    assert a.ext_modules == ["tinyc._speed"] and a.smoke == "ok"
    assert a.auditwheel_policy is not None and a.auditwheel_policy.startswith("manylinux_2_")
    assert a.sandbox == sandbox.name
    assert {p.name for p in rec.recipe.build_deps} >= {"setuptools", "build"}
    assert rec.recipe.target == "x86_64-linux-gnu.2.17" and rec.recipe.zig_version == "0.17.1"
    assert VerificationRecord.loads(rec.dumps()) == rec


def test_cxx_extension_is_reproducible_cold_and_warm(tmp_path, wheelhouse, zig_cache, sandbox) -> None:
    """libc++ is compiled into a cold build's own fresh cache and linked from a copy of the trusted warm one in
    the other: both name the same working directory in their debug information, so the wheels are equal."""
    rec = _verify(sdists.cxx_sdist(tmp_path), tmp_path, wheelhouse, zig_cache, sandbox, variations=VARIATIONS)
    assert rec.grade == "reproducible", rec.reasons
    assert [b.variation for b in rec.builds] == [v.name for v in VARIATIONS]
    assert any(v.cold_cache for v in VARIATIONS) and not all(v.cold_cache for v in VARIATIONS)
    assert rec.builds[0].ext_modules == ["tinycxx._speed"]


def test_wall_clock_time_is_repeatable_and_explained(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    rec = _verify(sdists.timestamp_sdist(tmp_path), tmp_path, wheelhouse, zig_cache, sandbox, warm_variations)
    assert rec.grade == "repeatable", rec.reasons
    exp = rec.explanation
    assert exp is not None
    assert "tinytime/_speed.cpython-311-x86_64-linux-gnu.so" in exp.differing_members
    assert exp.causes == ["timestamps"]
    assert not exp.equal_after_normalization
    assert exp.diffoscope_path is not None or "diffoscope-minimal" in (exp.note or "")


def test_random_bytes_are_repeatable_and_explained(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    rec = _verify(sdists.random_sdist(tmp_path), tmp_path, wheelhouse, zig_cache, sandbox, warm_variations,
                  diffoscope=False)
    assert rec.grade == "repeatable"
    assert rec.explanation is not None and "randomness" in rec.explanation.causes


def test_compile_error_is_broken_with_its_log(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    rec = _verify(sdists.broken_sdist(tmp_path), tmp_path, wheelhouse, zig_cache, sandbox, warm_variations)
    assert rec.grade == "broken"
    assert "failed" in rec.reasons[0]
    log = Path(rec.builds[0].log_path or "")
    assert "error" in log.read_text()


def test_pure_fallback_is_broken(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    rec = _verify(sdists.fallback_sdist(tmp_path), tmp_path, wheelhouse, zig_cache, sandbox, warm_variations[:1],
                  builds=1)
    assert rec.grade == "broken"
    assert "fell back to a pure wheel" in rec.reasons[0]


def test_rebuild_by_recipe_gives_the_recorded_bytes(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    sd = sdists.c_sdist(tmp_path, name="tinyagain")
    setup = BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache)
    recipe = make_recipe(sd, "x86_64-linux-gnu.2.17", setup=BuildSetup(wheelhouse=wheelhouse), workdir=tmp_path)
    _, first = rebuild(sd, recipe=recipe, workdir=tmp_path / "one", setup=setup, variation=warm_variations[0])
    again = Recipe_from_json(recipe)
    _, second = rebuild(sd, recipe=again, workdir=tmp_path / "two", setup=setup, variation=warm_variations[1],
                        smoke=False)
    assert first.ok and second.ok and first.blake3 == second.blake3


def Recipe_from_json(recipe):  # a recipe read back from its JSON, as a rebuild next year would
    from verifier import Recipe

    return Recipe.from_json(json.loads(json.dumps(recipe.to_json())))


def test_tampered_build_dependency_is_refused(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    sd = sdists.c_sdist(tmp_path, name="tinypin")
    recipe = make_recipe(sd, "x86_64-linux-gnu.2.17", setup=BuildSetup(wheelhouse=wheelhouse), workdir=tmp_path)
    bad = replace(recipe, build_deps=tuple(replace(p, blake3="blake3:" + "0" * 64) for p in recipe.build_deps))
    _, res = rebuild(sd, recipe=bad, workdir=tmp_path / "w",
                     setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache),
                     variation=warm_variations[0])
    assert not res.ok and res.infra_failure and "recipe pins blake3:000" in (res.failure or "")
    assert zipfile.is_zipfile(wheelhouse / recipe.build_deps[0].filename)


def test_verify_an_sdist_from_the_store(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    casstore = pytest.importorskip("casstore")
    store = casstore.Store.memory()
    info = store.put(sdists.c_sdist(tmp_path, name="tinystore"))
    for ref in (info.filename, str(info.blake3)):
        rec = _verify(ref, tmp_path / ref[:6], wheelhouse, zig_cache, sandbox, warm_variations, store=store)
        assert rec.grade == Grade.REPRODUCIBLE.value
        assert rec.recipe.sdist_blake3 == str(info.blake3)
        log = rec.builds[0].log_blake3
        assert log is not None and b"Successfully built" in store.get_blob(casstore.Digest.parse(log))


def test_dynamic_build_requirements_are_pinned(tmp_path, wheelhouse) -> None:
    """Old setuptools asks for `wheel` from get_requires_for_build_wheel; the recipe must pin it too."""
    sd = sdists.write_sdist(tmp_path, "tinyold", {
        "pyproject.toml": sdists.PYPROJECT.replace("setuptools>=40.8.0", "setuptools==68.2.2"),
        "setup.py": "from setuptools import setup\nsetup(name='tinyold', version='0.1')\n",
    })
    recipe = make_recipe(sd, "x86_64-linux-gnu.2.17", setup=BuildSetup(wheelhouse=wheelhouse), workdir=tmp_path / "w")
    names = {p.name: p.version for p in recipe.build_deps}
    assert names["setuptools"] == "68.2.2" and "wheel" in names


def test_evictable_wheel_is_rebuilt_from_the_store_alone(tmp_path, wheelhouse, zig_cache, sandbox,
                                                        warm_variations) -> None:
    casstore = pytest.importorskip("casstore")
    from verifier import ZigRebuilder, keep_build_deps, keep_records

    store = casstore.Store.memory()
    info = store.put(sdists.c_sdist(tmp_path, name="tinyevict"))
    rec = _verify(info.filename, tmp_path, wheelhouse, zig_cache, sandbox, warm_variations, store=store)
    assert rec.grade == "reproducible"
    keep_build_deps(store, rec.recipe, wheelhouse)
    (digest,) = keep_records(store, [rec])
    assert digest.startswith("blake3:")
    if hasattr(store, "rebuild_records"):
        (kept,) = store.rebuild_records(sdist=info.filename)
        assert kept["recipe_digest"] == rec.recipe_digest
    else:  # a casstore without a records catalog keeps the JSON as a blob
        kept = json.loads(store.get_blob(casstore.Digest.parse(digest)))
    wheel = ZigRebuilder(tmp_path / "rebuilder", zig_cache=zig_cache, sandbox=sandbox).rebuild(
        store, kept, tmp_path / "served")
    from casstore import hash_file

    assert str(hash_file(wheel).digest()) == rec.builds[0].wheel_blake3


def test_batch_on_an_executor(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from verifier import verify_many

    good = sdists.c_sdist(tmp_path / "g", name="tinybatch")
    missing = tmp_path / "missing-1.0.tar.gz"
    with ThreadPoolExecutor(2) as pool:
        out = verify_many([good, missing], workdir=tmp_path / "w", executor=pool,
                          setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache),
                          variations=warm_variations, diffoscope=False)
    assert list(out) == [good, missing]
    recs = out[good]
    assert isinstance(recs, list) and recs[0].grade == "reproducible"
    assert isinstance(out[missing], InvalidSdist)


def test_abi3_extension(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    rec = _verify(sdists.abi3_sdist(tmp_path), tmp_path, wheelhouse, zig_cache, sandbox, warm_variations)
    assert rec.grade == "reproducible", rec.reasons
    assert rec.builds[0].wheel_filename == "tinyabi-0.1-cp311-abi3-manylinux_2_17_x86_64.whl"
    assert rec.builds[0].ext_modules == ["tinyabi._speed"]
