"""Zig rebuild time (cold and warm zig cache) against a plain `pip wheel` with the host gcc, in the same
run; and the total time of a two-build verification, with its grade.

    python benchmarks/rebuild_bench.py [--cold N] [--out benchmarks/results/rebuild.json] [name==version ...]

Every build takes its build dependencies offline from the same local wheelhouse (.cache/wheelhouse).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.verifier.pypi import fetch_sdist
from verifier import VARIATIONS, BuildSetup, detect_sandbox, make_recipe, verify
from verifier.build.build import build_once
from verifier.exec.command import run

PACKAGES = [
    "markupsafe==2.1.5", "msgpack==1.1.0", "ujson==5.10.0", "simplejson==3.19.3", "wrapt==1.16.0",
    "xxhash==3.5.0", "lz4==4.3.3", "brotli==1.1.0", "mmh3==5.0.1", "bitarray==3.0.0", "regex==2024.11.6",
    "psutil==6.1.0", "pyrsistent==0.20.0", "zstandard==0.23.0",
]
CACHE = REPO / ".cache"


def gcc_wheel(sdist: Path, work: Path, wheelhouse: Path) -> tuple[bool, float]:
    """The anchor: `pip wheel` with the host compiler, build deps from the same wheelhouse."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "SOURCE_DATE_EPOCH": "1700000000"}
    r = run([sys.executable, "-m", "pip", "wheel", "--isolated", "--no-deps", "--no-index", "--find-links",
             str(wheelhouse), "-w", str(work / "gcc-out"), str(sdist)], cwd=work, env=env, log=work / "gcc.log")
    return r.ok, r.seconds


def bench(spec: str, cold: bool, wheelhouse: Path, zig_cache: Path) -> dict[str, object]:
    name, version = spec.split("==")
    sdist = fetch_sdist(name, version, CACHE)
    sandbox = detect_sandbox()
    row: dict[str, object] = {"package": spec, "sdist": sdist.name}
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        recipe = make_recipe(sdist, "x86_64-linux-gnu.2.17", setup=BuildSetup(wheelhouse=wheelhouse), workdir=work)
        setup = BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache)
        ok, gcc_s = gcc_wheel(sdist, work, wheelhouse)
        row["gcc_s"] = round(gcc_s, 2)
        row["gcc_ok"] = ok
        warm = replace(VARIATIONS[0], cold_cache=False)
        build_once(sdist, recipe, warm, workdir=work / "prime", setup=setup,
                   smoke=False)  # fills the shared cache for this package's languages
        t = build_once(sdist, recipe, warm, workdir=work / "warm", setup=setup, smoke=False)
        row["zig_warm_s"], row["zig_ok"] = round(t.seconds, 2), t.ok
        if cold:
            c = build_once(sdist, recipe, VARIATIONS[0], workdir=work / "cold",
                           setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse), smoke=False)
            row["zig_cold_s"] = round(c.seconds, 2)
        t0 = time.monotonic()
        (rec,) = verify(sdist, workdir=work / "verify", setup=setup,
                        variations=tuple(replace(v, cold_cache=False) for v in VARIATIONS))
        row["verify_s"] = round(time.monotonic() - t0, 2)
        row["grade"] = rec.grade
        row["why"] = ("; ".join(rec.explanation.causes) if rec.explanation else "") or "; ".join(
            r for r in rec.reasons if rec.grade != "reproducible")
        row["differing"] = rec.explanation.differing_members if rec.explanation else []
        row["sandbox"] = rec.builds[0].sandbox
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("packages", nargs="*", default=PACKAGES)
    ap.add_argument("--cold", type=int, default=3, help="measure a cold zig cache for the first N packages")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "rebuild.json")
    args = ap.parse_args(argv)
    wheelhouse, zig_cache = CACHE / "wheelhouse", CACHE / "zig"
    rows = []
    print("| package | grade | gcc pip wheel s | zig warm s | zig cold s | verify (2 builds) s | cause |")
    print("|---|---|---|---|---|---|---|")
    for i, spec in enumerate(args.packages):
        try:
            row = bench(spec, i < args.cold, wheelhouse, zig_cache)
        except Exception as e:  # noqa: BLE001 -- one package's failure must not end the run
            row = {"package": spec, "grade": "error", "why": f"{type(e).__name__}: {e}"}
        rows.append(row)
        print(f"| {spec} | {row.get('grade')} | {row.get('gcc_s', '')} | {row.get('zig_warm_s', '')} | "
              f"{row.get('zig_cold_s', '')} | {row.get('verify_s', '')} | {row.get('why', '')} |", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2))
    shutil.rmtree(CACHE / "bench-tmp", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
