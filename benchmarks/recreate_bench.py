"""Where compact-tier time goes, and what the accelerator and threads buy, in one run.

    python benchmarks/recreate_bench.py --corpus medium --files 6     # numpy + pillow wheels
    python benchmarks/recreate_bench.py --corpus small --files 40

For the chosen wheels (the largest numpy and pillow wheels of the corpus, or the first N files):
1. deflate throughput of the pinned engine (cmeel-zlib, ctypes) vs Python's zlib on the same
   members, both checked to give the same bytes;
2. put (compact tier) with the members probed in order vs by threads;
3. read + verify of the same store in one process: pinned engine only, in order (as before manifest
   version 2) / accelerator, in order / accelerator + threads;
4. BLAKE3 of the same bytes, as the anchor.
Each variant runs twice, interleaved, and the better time is kept (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import blake3

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus as corpus_mod

from casstore.format import deflate as _deflate
from casstore.format import recipe as _recipe
from casstore.format import split as _split
from casstore.store.store import Store

MB = 1e6


def pick(files: list[Path], n: int) -> list[Path]:
    wheels = [p for p in files if p.name.endswith(".whl")]
    big = [p for p in wheels if p.name.lower().startswith(("numpy", "pillow"))]
    if big:
        big.sort(key=lambda p: p.stat().st_size, reverse=True)
        return big[:n]
    return wheels[:n]


def deflate_speeds(paths: list[Path]) -> tuple[float, float, int]:
    members: list[bytes] = []
    for p in paths[:2]:
        with zipfile.ZipFile(p) as z:
            members += [z.read(i) for i in z.infolist() if i.compress_type == 8 and i.file_size > 64]
    content = sum(map(len, members))
    best = {"pinned": 1e9, "zlib": 1e9}
    for _ in range(2):
        for name in ("pinned", "zlib"):
            t = time.perf_counter()
            outs = []
            for m in members:
                if name == "pinned":
                    outs.append(b"".join(_deflate.deflate_chunks(_deflate.Params(6), [m])))
                else:
                    c = zlib.compressobj(6, zlib.DEFLATED, -15, 8, 0)
                    outs.append(c.compress(m) + c.flush())
            best[name] = min(best[name], time.perf_counter() - t)
            if name == "pinned":
                pinned_out = outs
            elif outs != pinned_out:
                raise SystemExit("Python's zlib and the pinned engine differ on these members")
    return content / best["pinned"] / MB, content / best["zlib"] / MB, content


def put_all(root: Path, paths: list[Path], workers: int) -> float:
    shutil.rmtree(root, ignore_errors=True)
    orig = _split.Splitter.__init__

    def init(self, sink, **kw):  # type: ignore[no-untyped-def]
        kw["workers"] = workers
        orig(self, sink, **kw)

    _split.Splitter.__init__ = init  # type: ignore[method-assign]
    try:
        with Store.directory(root, tier="compact") as store:
            t = time.perf_counter()
            for p in paths:
                store.put(p)
            return time.perf_counter() - t
    finally:
        _split.Splitter.__init__ = orig  # type: ignore[method-assign]


def read_all(root: Path, paths: list[Path], *, accelerator: bool, workers: int) -> float:
    real_accel, real_render = _deflate.accelerator_available, _recipe.render
    if not accelerator:
        _deflate.accelerator_available = lambda: False  # type: ignore[assignment]
    _recipe.render = lambda r, o, workers=workers: real_render(r, o, workers=workers)  # type: ignore[misc]
    try:
        with Store.directory(root) as store:
            t = time.perf_counter()
            for p in paths:
                h = blake3.blake3(max_threads=1)
                with store.open(p.name) as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            return time.perf_counter() - t
    finally:
        _deflate.accelerator_available, _recipe.render = real_accel, real_render  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=sorted(corpus_mod.CORPORA), default="medium")
    ap.add_argument("--files", type=int, default=6)
    args = ap.parse_args(argv)
    paths = pick(corpus_mod.fetch(args.corpus, quiet=True), args.files)
    raw = sum(p.stat().st_size for p in paths)
    print(f"{len(paths)} wheels, {raw / MB:.1f} MB: {', '.join(p.name[:40] for p in paths[:4])}...")
    t = time.perf_counter()
    for p in paths:
        blake3.blake3(p.read_bytes(), max_threads=1).digest()
    print(f"anchor: BLAKE3 of the files (1 thread) {raw / (time.perf_counter() - t) / MB:.0f} MB/s")
    pinned, system, content = deflate_speeds(paths)
    print(f"deflate level 6 of {content / MB:.0f} MB of members: pinned engine {pinned:.1f} MB/s, "
          f"Python's zlib {system:.1f} MB/s (same bytes): x{system / pinned:.2f}")
    work = Path(tempfile.mkdtemp(prefix="recreate-bench-", dir=os.environ.get("BENCH_TMP")))
    try:
        root = work / "store"
        puts = {1: 1e9, 2: 1e9}
        for _ in range(2):
            for w in (1, 2):
                puts[w] = min(puts[w], put_all(root, paths, w))
        print(f"put compact, 1 process: members probed in order {raw / puts[1] / MB:.1f} MB/s, "
              f"by 2 threads {raw / puts[2] / MB:.1f} MB/s")
        keys = [("pinned, in order", False, 0), ("accelerator, in order", True, 0),
                ("accelerator + 2 threads", True, 2)]
        variants = dict.fromkeys(keys, 1e9)
        for _ in range(2):
            for key in keys:
                variants[key] = min(variants[key], read_all(root, paths, accelerator=key[1], workers=key[2]))
        print("read + verify compact, 1 process: " + ", ".join(
            f"{k[0]} {raw / v / MB:.1f} MB/s" for k, v in variants.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
