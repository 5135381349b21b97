"""Several processes putting overlapping files into one disk store, with gc running alongside."""

from __future__ import annotations

import io
import multiprocessing as mp
from pathlib import Path

import pytest

from casstore import Store, fsck

from .conftest import make_wheel


def _files(n: int) -> list[tuple[str, bytes]]:
    return [make_wheel("pkg", f"1.{i}", files={"pkg/m.py": f"V = {i}\n".encode() * 2000}) for i in range(n)]


def _writer(root: str, start: int, count: int, total: int, q: mp.Queue[object]) -> None:
    try:
        store = Store.directory(root)
        files = _files(total)
        for j in range(count):
            fn, data = files[(start + j) % total]
            store.put(io.BytesIO(data), fn)
            assert store.get(fn) == data
        q.put("ok")
    except BaseException as e:  # report, don't hang the parent
        q.put(f"{type(e).__name__}: {e}")


def _collector(root: str, rounds: int, q: mp.Queue[object]) -> None:
    try:
        store = Store.directory(root)
        for _ in range(rounds):
            store.gc()  # default grace: never races a put
            fsck(store)
        q.put("ok")
    except BaseException as e:
        q.put(f"{type(e).__name__}: {e}")


def test_four_writers_and_a_gc_lose_nothing(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    Store.directory(root).close()
    total = 40
    ctx = mp.get_context("spawn")
    q: mp.Queue[object] = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(root, i * 7, 30, total, q)) for i in range(4)]
    procs.append(ctx.Process(target=_collector, args=(root, 5, q)))
    for p in procs:
        p.start()
    results = [q.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == ["ok"] * len(procs)
    store = Store.directory(root)
    expected = {fn: data for fn, data in _files(total)}
    written = {f.filename for f in store.ls()}
    # writers covered offsets 0..29, 7..36, 14..43, 21..50 (mod 40): every file
    assert written == set(expected)
    for fn, data in expected.items():
        assert store.get(fn) == data
    report = fsck(store)
    assert report.ok and report.unreferenced == []


@pytest.mark.parametrize("n", [2, 8])
def test_n_processes_put_read_rm_gc_evict_without_loss_or_errors(tmp_path: Path, n: int) -> None:
    """N processes for a few seconds over overlapping files, gc with grace 0 racing every put, evict and
    reconstruction (deterministic rebuilder double); see tests/concurrencykit.py for what is checked."""
    from .concurrencykit import run

    result = run(tmp_path, n, 3.0, seed=n)
    assert result.ops.get("put", 0) and result.ops.get("get", 0) and result.ops.get("gc", 0)
    assert result.errors == []  # nothing reached a caller: no "database is locked", no vanished blob
    assert result.problems == []  # nothing lost, fsck clean, nothing left unreferenced after one gc
