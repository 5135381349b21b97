"""A nightly batch on a real Dask cluster: a scheduler and two single-thread workers on 127.0.0.1,
started as subprocesses (`dask scheduler`, `dask worker`); the runner gets the cluster's executor and
nothing else changes."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from casstore import Store
from verifier import BuildSetup, make_executor, run_nightly

from . import sdists
from .conftest import REPO

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

X86 = "x86_64-linux-gnu.2.17"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DASK = shutil.which("dask")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """tcp://127.0.0.1:PORT of a scheduler with two workers (nthreads 1 each)."""
    if DASK is None:
        pytest.skip("the `dask` command is not installed (pip install 'dask[distributed]')")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as stack:
        def start(name: str, *args: str) -> None:
            out = stack.enter_context(open(logs / f"{name}.log", "wb"))
            procs.append(subprocess.Popen([DASK, *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT))

        try:
            start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0",
                  "--no-show")
            for i in range(2):
                start(f"worker-{i}", "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                      "--dashboard-address", ":0", "--local-directory", str(tmp_path / f"worker-{i}"), "--name", f"w{i}")
            with distributed.Client(address, timeout=60) as client:
                client.wait_for_workers(2, timeout=60)
            yield address
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in reversed(procs):
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()


def _tasks_per_worker(address: str) -> dict[str, int]:
    """How many `verify` tasks each worker ran (from the workers' own transition logs)."""
    def count(dask_worker) -> int:  # type: ignore[no-untyped-def]
        return len({e[0] for e in dask_worker.state.log if "verify" in str(e[0]) and "memory" in e})

    with distributed.Client(address, timeout=30) as client:
        return {w: n for w, n in client.run(count).items()}


def test_nightly_on_a_two_worker_dask_cluster(cluster: str, tmp_path: Path, wheelhouse, zig_cache, sandbox,
                                             warm_variations) -> None:
    store = Store.directory(tmp_path / "store")
    src = [sdists.c_sdist(tmp_path / "src"), sdists.cxx_sdist(tmp_path / "src")]
    executor, close = make_executor(cluster)
    t0 = time.monotonic()
    try:
        night = run_nightly(store, src, [X86], runs_dir=tmp_path / "runs", executor=executor,
                            setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache),
                            variations=warm_variations, diffoscope=False)
    finally:
        close()
    assert night.built == 2 and night.errors == 0, night.records
    assert night.counts() == {"reproducible": 2}
    assert {r["recipe"]["sdist_filename"] for r in store.rebuild_records()} == {"tinyc-0.1.tar.gz", "tinycxx-0.1.tar.gz"}
    per_worker = _tasks_per_worker(cluster)
    assert sum(per_worker.values()) == 2, per_worker  # the work ran on the cluster's workers
    print(f"2 pairs on 2 Dask workers in {time.monotonic() - t0:.1f} s: {per_worker}")
