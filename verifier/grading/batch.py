"""Batches: many sdists verified on an Executor (a local process pool by default, or a Dask cluster's
`client.get_executor()`); records come back to the caller, who keeps them in the store."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..record import VerificationRecord
from ..toolchain.targets import DEFAULT_TARGET
from .verification import verify

__all__ = ["local_pool", "verify_many"]


def local_pool(workers: int = 2) -> concurrent.futures.ProcessPoolExecutor:
    """A local process pool whose workers start from a fresh interpreter (forkserver), not as forks of
    this process: casstore's Hasher hashes on a thread pool (BLAKE3, all threads), and a forked worker
    that hashes a large file after its parent did waits forever for threads it does not have."""
    return concurrent.futures.ProcessPoolExecutor(max_workers=workers,
                                                  mp_context=multiprocessing.get_context("forkserver"))


def verify_many(
    sdists: Sequence[Path],
    targets: Sequence[str] = (DEFAULT_TARGET,),
    *,
    workdir: Path,
    executor: concurrent.futures.Executor | None = None,
    on_done: Callable[[Path, list[VerificationRecord] | BaseException], None] | None = None,
    **verify_kw: Any,
) -> dict[Path, list[VerificationRecord] | BaseException]:
    """Verify each sdist (a path: workers need no store) in its own work directory, in parallel.

    One sdist's failure (any exception) is its result and does not stop the batch."""
    own = executor is None
    pool = executor or local_pool(2)
    workdir = workdir.absolute()
    try:
        futures = {
            pool.submit(verify, Path(s).absolute(), tuple(targets), workdir=workdir / f"{i:04d}", **verify_kw): Path(s)
            for i, s in enumerate(sdists)
        }
        results: dict[Path, list[VerificationRecord] | BaseException] = {}
        for fut in concurrent.futures.as_completed(futures):
            sdist = futures[fut]
            exc = fut.exception()
            results[sdist] = exc if exc is not None else fut.result()
            if on_done is not None:
                on_done(sdist, results[sdist])
        return {Path(s): results[Path(s)] for s in sdists}
    finally:
        if own:
            pool.shutdown()
