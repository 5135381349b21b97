"""N processes at once on one disk store: put, get (reconstructing evicted wheels), rm, gc and evict over
overlapping files. Used by ``tests/test_concurrency.py`` (N = 2 and 8, a few seconds) and
``benchmarks/concurrency_bench.py`` (N = 2, 4, 6, 8 with throughput).

Files ``KEEP`` are put, read and evicted by everyone but never removed; files ``CHURN`` are put, read
and removed by everyone. Every exception that reaches a worker is a finding, except a ``NotFound`` for a
churn file another worker removed between two calls (the store's answer to that race). Afterwards:
nothing lost (every keep file reads back verified, an evicted one through reconstruction), every listed
file verified, fsck clean — so gc never deleted a blob a concurrent put had just referenced — and one
gc leaves nothing unreferenced. Evict uses the deterministic rebuilder double of :mod:`tests.crashkit`.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casstore import NotFound, Store, WheelCache, fsck, open_store

from .crashkit import RegenRebuilder, prepare, record, wheel

KEEP = range(6)
CHURN = range(6, 14)


@dataclass
class Result:
    n: int
    seconds: float
    ops: dict[str, int] = field(default_factory=dict)
    bytes_moved: int = 0  # bytes put + bytes read back
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def total_ops(self) -> int:
        return sum(self.ops.values())


def _where() -> str:
    import traceback

    frames = traceback.extract_tb(__import__("sys").exc_info()[2])
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames[::-1][:4])


def _worker(root: str, wid: int, seed: int, seconds: float, grace: float, sd: str,
            q: mp.Queue[Any]) -> None:
    rng = random.Random(seed * 1000 + wid)
    ops: dict[str, int] = {}
    errors: list[str] = []
    moved = 0
    try:
        store = Store.directory(root)
        cache = WheelCache.attach(store, rebuilder=RegenRebuilder())
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            n += 1
            op = rng.choices(("put", "get", "rm", "gc", "evict", "record"), (30, 40, 12, 4, 8, 6))[0]
            i = rng.choice(KEEP if op in ("evict", "record") else (*KEEP, *CHURN))
            fn, data = wheel(i)
            try:
                if op == "put":
                    store.put(io.BytesIO(data), fn)
                    moved += len(data)
                elif op == "get":
                    got = store.get(fn)
                    if got != data:
                        errors.append(f"{fn}: read other bytes")
                    moved += len(got)
                elif op == "rm" and i in CHURN:
                    store.rm(fn)
                elif op == "gc":
                    store.gc(grace=grace)
                elif op == "evict":
                    cache.evict([fn])
                elif op == "record":
                    store.record_rebuild(record(i, seed * 1_000_000 + wid * 10_000 + n, sd))
            except NotFound as e:
                if i not in CHURN:  # keep files are never removed: not finding one is a loss
                    errors.append(f"{op} {fn}: {e} at {_where()}")
                continue
            except Exception as e:  # noqa: BLE001 - every other exception reaching a caller is a finding
                errors.append(f"{op} {fn}: {type(e).__name__}: {e} at {_where()}")
                continue
            ops[op] = ops.get(op, 0) + 1
        store.close()
    except BaseException as e:  # noqa: BLE001 - everything is reported
        errors.append(f"{type(e).__name__}: {e}")
    q.put((ops, moved, errors))


def run(base: Path, n: int, seconds: float, *, seed: int = 1, grace: float = 0.0) -> Result:
    """Start ``n`` workers on a fresh store under ``base`` for ``seconds``, then check the store."""
    root = base / f"store-n{n}"
    sd = prepare(root)
    with open_store(root, rebuilder=RegenRebuilder()) as s:  # every keep wheel evictable from the start
        for i in KEEP:
            fn, data = wheel(i)
            s.put(io.BytesIO(data), fn)
            for k in range(2):
                s.record_rebuild(record(i, 900_000 + i * 10 + k, sd))
    ctx = mp.get_context("fork")
    q: mp.Queue[Any] = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(root), w, seed, seconds, grace, sd, q)) for w in range(n)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    res = Result(n, 0.0)
    for _ in procs:
        ops, moved, errors = q.get(timeout=seconds + 300)
        for k, v in ops.items():
            res.ops[k] = res.ops.get(k, 0) + v
        res.bytes_moved += moved
        res.errors.extend(errors)
    res.seconds = time.monotonic() - t0
    for p in procs:
        p.join(timeout=60)
    check(root, res)
    return res


def check(root: Path, res: Result) -> None:
    p = res.problems
    with open_store(root, rebuilder=RegenRebuilder()) as store:
        report = fsck(store)
        if not report.ok:
            p.append(f"fsck: corrupt={report.corrupt} missing={report.missing} damaged={report.damaged_files}")
        for i in KEEP:
            fn, data = wheel(i)
            try:
                if store.get(fn) != data:
                    p.append(f"{fn}: other bytes")
            except Exception as e:  # noqa: BLE001 - a finding
                p.append(f"{fn}: lost ({type(e).__name__}: {e})")
        for info in store.ls():
            try:
                store.get(info.filename)
            except Exception as e:  # noqa: BLE001
                p.append(f"{info.filename}: unreadable ({type(e).__name__}: {e})")
        store.gc(grace=-1)
        after = fsck(store)
        if after.unreferenced or not after.ok:
            p.append(f"after gc: unreferenced={len(after.unreferenced)} ok={after.ok}")
