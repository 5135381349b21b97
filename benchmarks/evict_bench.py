"""Wheels as a cache, measured: canonical builds of real sdists, eviction of every evictable wheel,
stored bytes before and after (gc included), and the reconstruction time of each evicted wheel.

    python benchmarks/evict_bench.py [--target T]... [SPEC ...]

SPECs are name==version of real sdists (downloaded once with pip into .cache/sdists); the default
is 10 C/C++ packages. The anchor is the build itself: each reconstruction is one warm Zig build,
printed next to the verification time of the same sdist. Results also go to
benchmarks/results/evict.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from casstore import Store, WheelCache
from tests.verifier.pypi import fetch_sdist
from verifier import VARIATIONS, BuildSetup
from verifier.nightly.build_all import build_all
from verifier.plugin.rebuilder import zig_rebuilder

DEFAULT = ["markupsafe==2.1.5", "msgpack==1.1.0", "ujson==5.10.0", "simplejson==3.19.3", "wrapt==1.16.0",
           "xxhash==3.5.0", "mmh3==5.0.1", "bitarray==3.0.0", "pyrsistent==0.20.0", "multidict==6.1.0"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*", default=DEFAULT)
    ap.add_argument("--target", action="append", dest="targets")
    args = ap.parse_args()
    targets = args.targets or ["x86_64-linux-gnu.2.17"]
    cache = ROOT / ".cache"
    from dataclasses import replace

    warm = tuple(replace(v, cold_cache=False) for v in VARIATIONS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        store = Store.directory(root)
        cache = WheelCache.attach(store, rebuilder=zig_rebuilder(root))
        for spec in args.specs:
            name, version = spec.split("==")
            store.put(fetch_sdist(name, version, cache))
        t0 = time.monotonic()
        rows = build_all(store, targets, workdir=Path(tmp) / "work",
                         setup=BuildSetup(wheelhouse=cache / "wheelhouse", zig_cache=cache / "zig"),
                         variations=warm, diffoscope=False)
        build_s = time.monotonic() - t0
        store.gc(grace=-1)
        before = store.stats().stored_bytes
        wheels = {f.filename: f for f in store.ls(kind="wheel") if f.origin == "rebuilt"}
        per_wheel_stored = {n: store.catalog.exclusive_stored_bytes(f"file:{n}") for n in wheels}
        report = cache.evict(list(wheels))
        store.gc(grace=-1)
        after = store.stats().stored_bytes
        results = []
        for name, _freed in report.evicted:
            t = time.monotonic()
            how = cache.reconstruct(name).how
            results.append({"wheel": name, "reconstruct_s": round(time.monotonic() - t, 1), "how": how,
                             "exclusive_stored_bytes": per_wheel_stored[name],
                             "digest_ok": str(store.info(name).blake3) == str(wheels[name].blake3)})
        out = {
            "targets": targets, "sdists": len(args.specs), "build_all_s": round(build_s, 1),
            "grades": {r.sdist + " " + r.target: r.grade for r in rows},
            "stored_before": before, "stored_after_eviction": after,
            "evicted": len(report.evicted), "refused": report.refused, "reconstructions": results,
        }
    print(f"{len(args.specs)} sdists x {len(targets)} targets: build-all {build_s:.0f} s")
    print(f"stored bytes with rebuilt wheels {before:,}; after evicting {len(report.evicted)} wheels and gc "
          f"{after:,} ({after / before:.3f})")
    print(f"{'wheel':70} {'stored':>9} {'rebuild s':>9}  digest")
    for r in results:
        print(f"{r['wheel']:70} {r['exclusive_stored_bytes']:>9,} {r['reconstruct_s']:>9}  "
              f"{'ok' if r['digest_ok'] else 'MISMATCH'}")
    for name, why in report.refused:
        print(f"refused {name}: {why}")
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "evict.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
