"""``casstore demo``, the main job on the embedded default: pull real releases into a directory store,
read every file back verified, show what the store holds and what it saved, then run the steps other
packages add (the verifier: rebuild, grade, evict, serve, fetch back, report)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import click
import httpx

from ..digest import CHUNK
from ..index import pypi as _pypi
from ..maintenance.fsck import fsck
from ..store import Store
from .context import StoreContext
from .output import out, size
from .store import print_stats

__all__ = ["COMMANDS", "DEMO_SPECS", "DemoResult", "run_demo"]

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


@click.command()
@click.option("--cache", type=click.Path(), default=".cache/casstore", show_default=True,
              help="Download cache directory.")
@click.option("--store-only", is_flag=True, help="Skip the steps other packages add (rebuilds, eviction, report).")
@click.pass_obj
def demo(ctx: StoreContext, cache: str, store_only: bool) -> None:
    """The main job: pull real releases, store them, read every file back verified, show savings."""

    store = ctx.store(create=True)
    out.print(f"[bold]casstore demo[/] — store at {ctx.path}")
    out.print("1. downloading " + ", ".join(f"{s} (newest {n} releases)" for s, n in DEMO_SPECS)
              + " with all their files")
    paths = fetch(DEMO_SPECS, Path(cache))
    out.print(f"   {len(paths)} files, {size(sum(p.stat().st_size for p in paths))}")
    out.print("2. storing them, then reading each back and verifying its digest")
    r = run_demo(store, paths)
    out.print(f"   put {r.files} files in {r.ingest_seconds:.1f} s; read back and verified {r.verified} "
              f"files ({size(r.raw_bytes)}) in {r.read_seconds:.1f} s")
    out.print("3. what the store holds")
    print_stats(store.stats())
    report = fsck(store)
    out.print(f"4. fsck: {report.objects_checked} objects re-hashed: {'ok' if report.ok else 'DAMAGED'}")
    if not store_only:  # e.g. the verifier: rebuild, grade, evict, serve, fetch back, report
        for ep in sorted(entry_points(group="casstore.demo"), key=lambda e: e.name):
            ep.load()(store, lambda msg: out.print(msg, highlight=False, markup=False), Path(cache))


COMMANDS = (demo,)
