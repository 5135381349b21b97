"""Crash stress: hundreds of seeded SIGKILL trials of the harness in tests/crashkit.py.

Each trial forks a worker that runs a seeded random mix of put, get (reconstructing evicted wheels), rm,
gc, evict, rebuild records, pin/unpin and download counts on a fresh store, kills it with SIGKILL at a
random moment, then checks fsck, every acknowledged operation, and that the catalog re-derived from the
blobs alone equals the catalog. Prints trials, failures (with seeds to replay) and wall time.

    python benchmarks/crash_stress.py --trials 300 --seed 1
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.crashkit import run_trial


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1, help="trial i uses seed SEED*100000 + i")
    ap.add_argument("--max-delay", type=float, default=1.0, help="kill at a uniform moment in [0, this] s "
                    "after the first acknowledged operation")
    ap.add_argument("--mix", default="", help="operation weights, e.g. 'evict=40,get=20,record=20,put=20' "
                    "(default: tests/crashkit.py OPS)")
    ap.add_argument("--no-recovery", action="store_true", help="skip the catalog re-derivation check")
    args = ap.parse_args(argv)
    mix = {k: int(v) for k, v in (kv.split("=") for kv in args.mix.split(",") if kv)} or None
    t0 = time.monotonic()
    failures = []
    ops: collections.Counter[str] = collections.Counter()
    killed_in: collections.Counter[str] = collections.Counter()
    acked = 0
    with tempfile.TemporaryDirectory(prefix="crash-stress-") as tmp:
        for i in range(args.trials):
            seed = args.seed * 100_000 + i
            t = run_trial(Path(tmp), seed, max_delay=args.max_delay, recovery=not args.no_recovery, ops=mix)
            acked += t.acked
            ops.update(t.ops)
            killed_in[t.killed_in.split()[0]] += 1
            if t.problems:
                failures.append(t)
                print(f"FAIL seed {seed} (killed in {t.killed_in}): {t.problems}", flush=True)
            if (i + 1) % 25 == 0:
                print(f"{i + 1} trials, {len(failures)} failures, {time.monotonic() - t0:.0f} s", flush=True)
    wall = time.monotonic() - t0
    print(f"\ntrials {args.trials}, failures {len(failures)}, wall {wall:.1f} s "
          f"({wall / max(args.trials, 1):.2f} s/trial), acknowledged operations {acked}")
    print("acknowledged per operation: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    print("killed during: " + ", ".join(f"{k} {v}" for k, v in sorted(killed_in.items()))
          + "  ('-' = between operations)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
