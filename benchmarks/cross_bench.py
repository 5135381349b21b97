"""Cross-target rebuild time: one sdist for the whole target matrix from this x86_64 host, per target and
in total, next to the native x86_64 build with the host gcc (`pip wheel`), in the same run.

    python benchmarks/cross_bench.py [--out benchmarks/results/cross.json] [name==version]

Each target is built once to warm the zig cache (and fetch its Debian sysroot into .cache/sysroots), then
timed: one build (zig cc + auditwheel) and its smoke import (under qemu-user for foreign architectures).
Build dependencies come offline from .cache/wheelhouse for every build, gcc's included.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.rebuild_bench import gcc_wheel
from tests.verifier.pypi import fetch_sdist
from verifier import TARGETS, VARIATIONS, detect_sandbox, make_recipe
from verifier._build import build_once

CACHE = REPO / ".cache"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("package", nargs="?", default="markupsafe==2.1.5")
    ap.add_argument("--targets", nargs="*", default=list(TARGETS))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cross.json")
    args = ap.parse_args(argv)
    wheelhouse, zig_cache, sysroots = CACHE / "wheelhouse", CACHE / "zig", CACHE / "sysroots"
    name, version = args.package.split("==")
    sdist = fetch_sdist(name, version, CACHE)
    sandbox = detect_sandbox()
    warm = replace(VARIATIONS[0], cold_cache=False)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        ok, gcc_s = gcc_wheel(sdist, work, wheelhouse)
        rows.append({"target": "x86_64 native, gcc pip wheel", "ok": ok, "build_s": round(gcc_s, 2)})
        print("| target | ok | build s (zig + auditwheel) | smoke | build + smoke s |\n|---|---|---|---|---|")
        print(f"| x86_64 native (gcc, `pip wheel`) | {ok} | {gcc_s:.2f} | | |", flush=True)
        total = 0.0
        for tname in args.targets:
            tdir = work / tname
            recipe = make_recipe(sdist, tname, wheelhouse=wheelhouse, workdir=tdir, sysroots=sysroots)
            build_once(sdist, recipe, warm, workdir=tdir / "prime", wheelhouse=wheelhouse, zig_cache=zig_cache,
                       sandbox=sandbox, sysroots=sysroots, smoke=False)
            b = build_once(sdist, recipe, warm, workdir=tdir / "b", wheelhouse=wheelhouse, zig_cache=zig_cache,
                           sandbox=sandbox, sysroots=sysroots, smoke=False)
            t0 = time.monotonic()
            s = build_once(sdist, recipe, warm, workdir=tdir / "s", wheelhouse=wheelhouse, zig_cache=zig_cache,
                           sandbox=sandbox, sysroots=sysroots, smoke=True)
            both = time.monotonic() - t0
            total += both
            rows.append({"target": tname, "ok": b.ok and s.ok, "build_s": round(b.seconds, 2),
                         "smoke": s.smoke, "build_and_smoke_s": round(both, 2),
                         "wheel": s.wheel.name if s.wheel else None, "policy": s.auditwheel_policy})
            print(f"| {tname} | {b.ok and s.ok} | {b.seconds:.2f} | {s.smoke} | {both:.2f} |", flush=True)
        rows.append({"target": "whole matrix (build + smoke, sequential)", "build_and_smoke_s": round(total, 2)})
        print(f"| whole matrix ({len(args.targets)} targets) | | | | {total:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"package": args.package, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
