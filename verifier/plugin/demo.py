"""The main job's second half, contributed to ``casstore demo`` through the ``casstore.demo``
entry points: rebuild and grade the demo's newest sdists for two targets, evict what is
reproducible, serve the index, fetch an evicted wheel back (rebuilt on demand), write the report."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..build.build import VARIATIONS, BuildSetup

__all__ = ["TOUR_TARGETS", "tour"]

TOUR_TARGETS = ("x86_64-linux-gnu.2.17", "aarch64-linux-gnu.2.17")


def _newest_sdists(store: Any) -> list[Any]:
    from packaging.version import Version

    newest: dict[str, Any] = {}
    for f in store.ls(kind="sdist"):
        if f.project not in newest or Version(f.version) > Version(newest[f.project].version):
            newest[f.project] = f
    return [newest[p] for p in sorted(newest)]


def tour(store: Any, say: Callable[[str], None], cache: Path) -> None:
    import httpx

    from casstore import WheelCache
    from casstore.index import make_app, running  # the application layer may use casstore's server

    from ..build.wheelhouse import default_wheelhouse
    from ..nightly.nightly import make_report, run_nightly, write_report
    from .rebuilder import zig_rebuilder

    root = Path(store.root) if store.root else cache / "tour-store"
    cache_ = store.reviver if isinstance(store.reviver, WheelCache) else WheelCache.attach(store)
    if cache_.rebuilder is None:
        cache_.rebuilder = zig_rebuilder(root)
    sdists = _newest_sdists(store)
    work = cache.absolute() / "tour"
    sdir = work / "sdists"
    sdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in sdists:
        store.export(s.filename, sdir)
        paths.append(sdir / s.filename)
    say(f"5. rebuilding {', '.join(s.filename for s in sdists)} with Zig for {', '.join(TOUR_TARGETS)} "
        f"(two builds each, sandboxed; the first build per target fills the zig cache)")
    warm = tuple(replace(v, cold_cache=False) for v in VARIATIONS)
    t0 = time.monotonic()
    night = run_nightly(store, paths, TOUR_TARGETS, runs_dir=work / "runs", new=True,
                        setup=BuildSetup(wheelhouse=default_wheelhouse(), zig_cache=Path(".cache/zig").absolute()),
                        variations=warm, diffoscope=True,
                        on_done=lambda r, how: say(f"   {r['recipe']['sdist_filename']} "
                                                   f"[{r['recipe']['target']}]: {r['grade']} ({how})"))
    say(f"   graded {night.counts()} in {time.monotonic() - t0:.0f} s")
    store.gc(grace=-1)
    before = store.stats().stored_bytes
    rebuilt = [f.filename for f in store.ls(kind="wheel") if f.origin == "rebuilt"]
    report = cache_.evict(rebuilt)
    store.gc(grace=-1)
    after = store.stats().stored_bytes
    say(f"6. evicted {len(report.evicted)} reproducible wheels: stored {before:,} → {after:,} bytes "
        f"(saved {before - after:,}); refused {len(report.refused)}")
    for name, why in report.refused[:5]:
        say(f"   refused {name}: {why}")
    if report.evicted:
        victim = store.info(report.evicted[0][0])
        with running(make_app(store)) as url:
            say(f"7. serving the index at {url}/simple/ ; fetching the evicted {victim.filename}")
            t1 = time.monotonic()
            resp = httpx.get(f"{url}/files/{victim.filename}", timeout=900)
            resp.raise_for_status()
            ok = hashlib.sha256(resp.content).hexdigest() == victim.sha256
            say(f"   rebuilt on demand and served in {time.monotonic() - t1:.1f} s; sha256 "
                f"{'matches' if ok else 'DOES NOT MATCH'} the recorded digest")
    out_dir = work / "report"
    rep = make_report(store, work / "runs", out_dir=out_dir)
    paths_out = write_report(rep, out_dir)
    say(f"8. report: {paths_out[0]}")
    say(f"   eviction saved {before - after:,} bytes of {before:,}")
