"""Wheels as a cache, end to end with real Zig builds of a real sdist (markupsafe 2.1.5) for two
targets: canonical builds, eviction with policies and refusals, reconstruction on read (one rebuild
for concurrent readers), pip installing and downloading the evicted wheels of both targets from the
running index (every digest compared), and a failed reconstruction marking the wheel unrecoverable."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from casstore import ReconstructionFailed, Store, WheelCache, fsck, open_store
from casstore.index import make_app, running
from tests.test_server_clients import clean_env
from tests.verifier.conftest import CACHE
from verifier import BuildSetup
from verifier.nightly.build_all import build_all
from verifier.plugin.rebuilder import zig_rebuilder

from .pypi import fetch_sdist
from .sdists import timestamp_sdist

pytestmark = pytest.mark.slow

TARGETS = ("x86_64-linux-gnu.2.17", "aarch64-linux-gnu.2.17")
X86 = "markupsafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.whl"
ARM = "markupsafe-2.1.5-cp311-cp311-manylinux_2_17_aarch64.whl"


class Counting:
    """The real rebuilder, counting calls (to show concurrent readers share one rebuild)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.lock = threading.Lock()

    def rebuild(self, store: Any, recipe: dict[str, Any], dest_dir: Path) -> Path:
        with self.lock:
            self.calls += 1
        return self.inner.rebuild(store, recipe, dest_dir)

    def toolchain_problem(self, recipe: Any) -> str | None:
        return self.inner.toolchain_problem(recipe)


def cache_of(store: Store) -> WheelCache:
    """The wheel cache open_store attached to the store as its reviver."""
    assert isinstance(store.reviver, WheelCache)
    return store.reviver


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path, zig_cache: Path,
          warm_variations: Any) -> tuple[Store, Counting, list[Any]]:
    tmp = tmp_path_factory.mktemp("e2e")
    rebuilder = Counting(zig_rebuilder(tmp / "store"))
    store = open_store(tmp / "store", rebuilder=rebuilder)
    store.put(fetch_sdist("markupsafe", "2.1.5", CACHE))
    store.put(timestamp_sdist(tmp / "src"))
    rows = build_all(store, TARGETS, workdir=tmp / "work", setup=BuildSetup(wheelhouse=wheelhouse, zig_cache=zig_cache),
                     variations=warm_variations, diffoscope=False)
    return store, rebuilder, rows


def test_build_all_stores_graded_wheels_as_rebuilt(built: tuple[Store, Counting, list[Any]]) -> None:
    store, _, rows = built
    grades = {(r.sdist, r.target): r.grade for r in rows}
    assert grades == {("MarkupSafe-2.1.5.tar.gz", t): "reproducible" for t in TARGETS} | {
        ("tinytime-0.1.tar.gz", t): "repeatable" for t in TARGETS}
    for name, tag in ((X86, "cp311-cp311-manylinux_2_17_x86_64"), (ARM, "cp311-cp311-manylinux_2_17_aarch64")):
        w = store.info(name)
        assert w.origin == "rebuilt" and w.tags == (tag,)
    assert {r["grade"] for r in store.rebuild_records(sdist="MarkupSafe-2.1.5.tar.gz")} == {"reproducible"}
    # the build dependencies of the recipe are in the store, pinned by digest
    recipe = store.rebuild_records(sdist="MarkupSafe-2.1.5.tar.gz")[0]["recipe"]
    assert recipe["build_deps"] and all(store.has(d["filename"]) for d in recipe["build_deps"])


def test_evict_refuses_what_cannot_be_rebuilt_and_dry_run_changes_nothing(
        built: tuple[Store, Counting, list[Any]]) -> None:
    store, _, _ = built
    wheel = X86
    assert cache_of(store).evictable(wheel).evictable
    for f in store.ls(kind="wheel"):
        if f.project != "markupsafe" and f.origin == "rebuilt":
            e = cache_of(store).evictable(f.filename)
            assert not e.evictable and "graded" in e.reason
    setuptools = next(f.filename for f in store.ls(project="setuptools", kind="wheel"))
    assert "no rebuild record" in cache_of(store).evictable(setuptools).reason
    before = store.stats().stored_bytes
    dry = cache_of(store).evict(policy=None, dry_run=True)
    assert sorted(n for n, _ in dry.evicted) == [ARM, X86]
    assert dict(dry.refused).get(setuptools) == "no rebuild record"
    assert store.info(wheel).state == "present" and store.stats().stored_bytes == before


def test_evict_then_read_rebuilds_once_for_concurrent_readers(built: tuple[Store, Counting, list[Any]]) -> None:
    store, rebuilder, _ = built
    wheel = X86
    original = store.get(wheel)
    report = cache_of(store).evict([wheel])
    assert report.evicted and report.evicted[0][0] == wheel and report.freed_bytes > 0
    store.gc(grace=-1)
    assert store.info(wheel).state == "evicted"
    assert store.stats().stored_bytes < report.stored_before
    assert fsck(store).ok
    calls = rebuilder.calls
    got: list[bytes] = []
    threads = [threading.Thread(target=lambda: got.append(store.get(wheel))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [original] * 3
    assert rebuilder.calls == calls + 1
    assert store.info(wheel).state == "present"


def test_pip_installs_the_evicted_wheels_of_both_targets_from_the_index(
        built: tuple[Store, Counting, list[Any]], tmp_path: Path) -> None:
    import hashlib

    store, rebuilder, _ = built
    digests = {n: store.info(n).sha256 for n in (X86, ARM)}
    report = cache_of(store).evict([X86, ARM])
    assert sorted(n for n, _ in report.evicted) == [ARM, X86]
    store.gc(grace=-1)
    calls = rebuilder.calls
    with running(make_app(store)) as url:
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        common = ["--no-cache-dir", "--timeout", "600", "--only-binary", ":all:", "--index-url", f"{url}/simple/"]
        r = subprocess.run([*pip, "install", *common, "markupsafe==2.1.5"],
                           env=clean_env(), capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stdout + r.stderr
        dl = tmp_path / "dl"
        r = subprocess.run([*pip, "download", *common, "--no-deps", "--platform", "manylinux_2_17_aarch64",
                            "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "-d", str(dl),
                            "markupsafe==2.1.5"], env=clean_env(), capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stdout + r.stderr
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import markupsafe, markupsafe._speedups; print(markupsafe.escape('<x>'))"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "&lt;x&gt;"
    assert hashlib.sha256((dl / ARM).read_bytes()).hexdigest() == digests[ARM]
    assert rebuilder.calls == calls + 2
    for n in (X86, ARM):
        assert store.info(n).state == "present" and store.info(n).sha256 == digests[n]


def test_failed_reconstruction_names_file_and_recipe_and_marks_unrecoverable(
        built: tuple[Store, Counting, list[Any]]) -> None:
    store, rebuilder, _ = built
    wheel = X86
    cache_of(store).evict([wheel])
    store.gc(grace=-1)

    class Wrong:
        def rebuild(self, _store: Any, recipe: dict[str, Any], dest_dir: Path) -> Path:
            dest_dir.mkdir(parents=True, exist_ok=True)
            p = dest_dir / wheel
            p.write_bytes(b"PK\x03\x04 not the wheel")
            return p

    cache_of(store).rebuilder = Wrong()  # type: ignore[assignment]
    try:
        with pytest.raises(ReconstructionFailed) as e:
            store.get(wheel)
        assert wheel in str(e.value) and "blake3:" in str(e.value) and "recipe" in str(e.value)
        cache_of(store).rebuilder = rebuilder  # type: ignore[assignment]
        # it still comes back by hand, but policy never evicts it again
        cache_of(store).reconstruct(wheel)
        assert store.info(wheel).state == "present"
        assert "unrecoverable" in cache_of(store).evictable(wheel).reason
    finally:
        cache_of(store).rebuilder = rebuilder  # type: ignore[assignment]
