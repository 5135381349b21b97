"""The main job on the embedded default: pull real releases into a directory store, read every
file back verified, and show what the store holds and what it saved."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from . import _pypi
from ._digest import CHUNK
from ._store import Store

__all__ = ["DEMO_SPECS", "DemoResult", "run_demo"]

# A few releases each, with every platform wheel the index has for them.
DEMO_SPECS: tuple[tuple[str, int], ...] = (("markupsafe>=2.1", 3), ("msgpack>=1.0", 3))


@dataclass(frozen=True, slots=True)
class DemoResult:
    files: int
    raw_bytes: int
    ingest_seconds: int | float
    read_seconds: float
    verified: int


def fetch(specs: tuple[tuple[str, int], ...], cache: Path, *, index: str = _pypi.PYPI_SIMPLE,
          on_file: Callable[[str], None] | None = None) -> list[Path]:
    paths = []
    with httpx.Client(follow_redirects=True, timeout=60) as client:
        for spec, latest in specs:
            project = spec.split(">")[0].split("=")[0].split("<")[0].strip()
            files = _pypi.select(_pypi.list_files(project, index=index, client=client), spec, latest=latest)
            for f in files:
                paths.append(_pypi.download(f, cache / "downloads", client=client))
                if on_file:
                    on_file(f.filename)
    return paths


def run_demo(store: Store, paths: list[Path], on_step: Callable[[str, str], None] | None = None) -> DemoResult:
    t0 = time.perf_counter()
    for p in paths:
        store.put(p)
        if on_step:
            on_step("put", p.name)
    t1 = time.perf_counter()
    verified = 0
    raw = 0
    for info in store.ls():
        with store.open(info.filename) as f:
            while chunk := f.read(CHUNK):
                raw += len(chunk)
        verified += 1
        if on_step:
            on_step("verified", info.filename)
    t2 = time.perf_counter()
    return DemoResult(len(paths), raw, t1 - t0, t2 - t1, verified)
