"""Concurrency: N processes at once putting, reading, removing, running gc and evict over overlapping
files of one disk store (tests/concurrencykit.py), for N = 2, 4, 6, 8. After each run: no lost file, no
exception reaching a caller (no "database is locked"), fsck clean — gc never deleted a blob a concurrent
put had referenced — and one gc leaves nothing unreferenced. Prints throughput per N; the anchor is
N = 1 in the same run (the same mix in one process).

    python benchmarks/concurrency_bench.py --seconds 10 --grace 0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.concurrencykit import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    ap.add_argument("--n", type=int, nargs="+", default=[1, 2, 4, 6, 8])
    ap.add_argument("--grace", type=float, default=0.0,
                    help="gc grace of the workers' gc calls (0: gc races every put as hard as it can)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(f"{args.seconds:.0f} s per run, gc grace {args.grace} s, mix put 30 / get 40 / rm 12 / gc 4 / "
          "evict 8 / record 6 (2 cores shared with other jobs: figures are lower bounds)\n")
    print(f"{'N':>3} {'ops':>6} {'ops/s':>7} {'MB/s':>6} {'put':>5} {'get':>5} {'rm':>4} {'gc':>4} {'evict':>5} "
          f"{'errors':>6} {'problems':>8}")
    bad = 0
    with tempfile.TemporaryDirectory(prefix="concurrency-bench-") as tmp:
        for n in args.n:
            r = run(Path(tmp), n, args.seconds, seed=args.seed, grace=args.grace)
            o = r.ops
            print(f"{n:>3} {r.total_ops:>6} {r.total_ops / r.seconds:>7.1f} {r.bytes_moved / r.seconds / 1e6:>6.2f} "
                  f"{o.get('put', 0):>5} {o.get('get', 0):>5} {o.get('rm', 0):>4} {o.get('gc', 0):>4} "
                  f"{o.get('evict', 0):>5} {len(r.errors):>6} {len(r.problems):>8}", flush=True)
            for e in r.errors[:5] + r.problems[:5]:
                print(f"    {e}")
            bad += bool(r.errors or r.problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
