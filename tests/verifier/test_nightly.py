"""Nightly runs: the pure decisions, and real (small) runs on a local process pool with tiny generated
sdists: records land in the store and the run directory at once, a killed run continues, current
records are reused, and the nights make a report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casstore import Store
from verifier import (
    BuildSetup,
    VerifierError,
    is_current,
    load_nights,
    make_report,
    run_nightly,
    write_report,
)
from verifier.nightly.nightly import environment

from . import sdists
from .records import make_record

X86 = "x86_64-linux-gnu.2.17"


def _current_record(**recipe: object) -> dict:
    r = make_record("foo-1.0.tar.gz", X86)
    r["recipe"].update(environment())
    r["recipe"].update(sdist_blake3="blake3:" + "1" * 64, build_deps=[{"filename": "setuptools-75.whl"}])
    r["recipe"].update(recipe)
    return r


def test_is_current_needs_same_sdist_target_toolchain_and_deps() -> None:
    env, b3 = environment(), "blake3:" + "1" * 64
    assert is_current(_current_record(), b3, X86, env)
    assert not is_current(_current_record(), "blake3:" + "2" * 64, X86, env)
    assert not is_current(_current_record(), b3, "aarch64-linux-gnu.2.17", env)
    assert not is_current(_current_record(zig_version="0.0.1"), b3, X86, env)
    assert not is_current(_current_record(python="cpython-3.10.0"), b3, X86, env)
    assert not is_current(_current_record(), b3, X86, env, wheelhouse=lambda f: f != "setuptools-75.whl")
    inconclusive = dict(_current_record(), grade="inconclusive")
    assert not is_current(inconclusive, b3, X86, env)  # always retried


class Killed(Exception):
    pass


@pytest.mark.slow
def test_nightly_resumes_reuses_and_reports(tmp_path: Path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    store = Store.directory(tmp_path / "store")
    src = [sdists.c_sdist(tmp_path / "src"), sdists.timestamp_sdist(tmp_path / "src")]
    runs = tmp_path / "runs"
    kw = {"runs_dir": runs, "setup": BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache),
          "variations": warm_variations, "diffoscope": False}

    def kill_after_first(rec: dict, how: str) -> None:
        if how == "built":
            raise Killed(rec["recipe"]["sdist_filename"])

    # 1. killed after the first pair finished: its record is in the store and the run directory already
    with pytest.raises(Killed) as killed:
        run_nightly(store, src, [X86], on_done=kill_after_first, **kw)
    first = killed.value.args[0]
    (run_dir,) = runs.iterdir()
    assert [p.name for p in (run_dir / "records").glob("*.json")] == [f"{first}@{X86}.json"]
    assert json.loads((run_dir / "run.json").read_text())["finished"] is None
    assert [r["recipe"]["sdist_filename"] for r in store.rebuild_records()] == [first]

    # 2. the next call continues that run: the finished pair is not built again
    seen: list[tuple[str, str]] = []
    night1 = run_nightly(store, src, [X86], on_done=lambda r, how: seen.append((r["recipe"]["sdist_filename"], how)),
                         **kw)
    assert night1.name == run_dir.name and (night1.resumed, night1.built, night1.reused) == (1, 1, 0)
    assert sorted(seen) == sorted([(first, "resumed"), (next(s.name for s in src if s.name != first), "built")])
    assert night1.counts() == {"reproducible": 1, "repeatable": 1}
    assert json.loads((run_dir / "run.json").read_text())["finished"]
    assert len(store.rebuild_records()) == 2
    assert all(b["log_blake3"] for r in store.rebuild_records() for b in r["builds"])  # logs kept as blobs

    # 3. a new night: both pairs have current records in the store, nothing is built
    night2 = run_nightly(store, src, [X86], new=True, **kw)
    assert night2.name != night1.name and (night2.built, night2.reused) == (0, 2)
    assert [n.name for n in load_nights(runs)] == [night1.name, night2.name]

    # 4. the report over both nights
    report = make_report(store, runs)
    assert report.night == night2.name and [n.name for n in report.trend] == [night1.name, night2.name]
    assert report.totals.counts["reproducible"] == 1 and report.totals.counts["repeatable"] == 1
    tiny = next(w for w in report.rows if w.project == "tinytime")
    assert tiny.grade == "repeatable" and tiny.logs and not tiny.logs[0].path.startswith("/")
    assert (runs / night2.name / tiny.logs[0].path).resolve().is_file()  # the link resolves from the report
    # the reproducible pair's rebuilt wheel was kept (with its build dependencies): eviction could take it
    rebuilt = [f for f in store.ls(kind="wheel") if f.origin == "rebuilt"]
    assert [f.project for f in rebuilt] == ["tinyc"]
    assert report.reclaimable.wheels == [rebuilt[0].filename]
    assert report.reclaimable.stored_bytes == rebuilt[0].stored_size > 0
    paths = write_report(report, runs / night2.name)
    assert sorted(p.name for p in paths) == ["report.html", "report.json", "report.md"]


@pytest.mark.slow
def test_requirements_are_fetched_into_the_store() -> None:
    """Requirement lines pick the newest matching sdist on PyPI (cached under .cache/, then offline)."""
    from verifier.nightly.nightly import sdists_from_requirements

    from .conftest import CACHE

    store = Store.memory()
    got = sdists_from_requirements(store, ["# nightly list", "msgpack==1.1.0  # pinned", "", "ujson>=5,<5.11"],
                                   CACHE / "nightly-req")
    assert [p.name for p in got] == ["msgpack-1.1.0.tar.gz", "ujson-5.10.0.tar.gz"]
    assert [f.filename for f in store.ls()] == ["msgpack-1.1.0.tar.gz", "ujson-5.10.0.tar.gz"]


def test_sdists_from_store_by_project(tmp_path: Path) -> None:
    from verifier.nightly.nightly import sdists_from_store

    store = Store.memory()
    for sd in (sdists.c_sdist(tmp_path / "src"), sdists.cxx_sdist(tmp_path / "src")):
        store.put(sd)
    assert [p.name for p in sdists_from_store(store, tmp_path / "out", ["tinycxx"])] == ["tinycxx-0.1.tar.gz"]
    assert [p.name for p in sdists_from_store(store, tmp_path / "out")] == ["tinyc-0.1.tar.gz", "tinycxx-0.1.tar.gz"]
    assert (tmp_path / "out" / "tinyc-0.1.tar.gz").read_bytes() == (tmp_path / "src" / "tinyc-0.1.tar.gz").read_bytes()
    with pytest.raises(VerifierError, match="no sdists of 'nope'"):
        sdists_from_store(store, tmp_path / "out", ["nope"])
