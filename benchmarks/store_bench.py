"""Storage benchmark: casstore's recipe format against generic tools on a real corpus, in one run.

    python benchmarks/store_bench.py --corpus small           # markupsafe + msgpack, a minute
    python benchmarks/store_bench.py --corpus full            # 8 projects, ~2.7 GB
    python benchmarks/store_bench.py --rss-gb 3               # peak RSS of put of a 3 GB file

Prints stored/raw for casstore (compact and/or fast tier), ``tar | zstd -3 --long``,
``tar | zstd -19 --long=27`` and borg (``zstd,3``); ingest MB/s against ``borg create``; read +
verify MB/s; BLAKE3-only hashing MB/s; and checks that every file comes back bit-exactly.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import blake3

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus as corpus_mod

from casstore.store.store import Store

MB = 1e6


def _hash(path: Path) -> str:
    h = blake3.blake3(max_threads=1)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _put_many(args: tuple[str, str, list[str]]) -> int:
    root, tier, paths = args
    with Store.directory(root, tier=tier) as store:
        for p in paths:
            store.put(p)
    return len(paths)


def _read_many(args: tuple[str, list[tuple[str, str]]]) -> list[str]:
    """Read every file back (verified against its stored digest at EOF) and compare its BLAKE3 with
    the original's: a bit-exact round trip."""
    root, items = args
    bad = []
    with Store.directory(root) as store:
        for name, want in items:
            h = blake3.blake3(max_threads=1)
            with store.open(name) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            if h.hexdigest() != want:
                bad.append(name)
    return bad


def _child_cpu() -> float:
    """CPU seconds (user + system) of every reaped child so far: on a shared machine, MB per CPU
    second compares runs better than wall-clock MB/s (which the other jobs' load changes)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_casstore(files: list[Path], raw: int, tier: str, jobs: int, work: Path,
                   originals: dict[str, str]) -> dict[str, float]:
    root = work / f"casstore-{tier}"
    Store.directory(root).close()
    # Interleave big and small files across workers; each worker opens the store itself.
    order = sorted(files, key=lambda p: p.stat().st_size, reverse=True)
    parts = [[str(p) for p in order[i::jobs]] for i in range(jobs)]
    t, cpu = time.perf_counter(), _child_cpu()
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_put_many, [(str(root), tier, part) for part in parts]))
    ingest, ingest_cpu = time.perf_counter() - t, _child_cpu() - cpu
    with Store.directory(root, tier=tier) as store:
        stats = store.stats()
        layouts = {r["layout"]: r["n"] for r in store.catalog.query(
            "SELECT layout, count(*) n FROM files GROUP BY layout")}
        t, cpu = time.perf_counter(), _child_cpu()
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            bad = [b for part in pool.map(_read_many, [(str(root), [(p.name, originals[p.name]) for p in
                                                                     files[i::jobs]]) for i in range(jobs)])
                   for b in part]
        read, read_cpu = time.perf_counter() - t, _child_cpu() - cpu
    if bad:
        raise SystemExit(f"round trip FAILED for {len(bad)} files: {bad[:5]}")
    disk = sum(f.stat().st_size for f in (root / "objects").rglob("*") if f.is_file())
    return {"stored": stats.stored_bytes, "ratio": stats.stored_bytes / raw, "disk_objects": disk,
            "ingest_s": ingest, "ingest_mbps": raw / ingest / MB, "read_s": read, "read_mbps": raw / read / MB,
            "ingest_cpu_s": ingest_cpu, "ingest_mb_per_cpu_s": raw / ingest_cpu / MB,
            "read_cpu_s": read_cpu, "read_mb_per_cpu_s": raw / read_cpu / MB,
            "layouts": layouts}


def bench_tar_zstd(directory: Path, raw: int, level: int, long: str) -> dict[str, float]:
    if not shutil.which("zstd"):
        return {"error": "zstd missing: apt-get install zstd"}  # type: ignore[dict-item]
    t = time.perf_counter()
    tar = subprocess.Popen(["tar", "cf", "-", "-C", str(directory), "."], stdout=subprocess.PIPE)
    z = subprocess.run(["zstd", f"-{level}", long, "-T2", "-c", "-q"], stdin=tar.stdout, capture_output=True)
    tar.wait()
    size = len(z.stdout)
    return {"stored": size, "ratio": size / raw, "seconds": time.perf_counter() - t}


def bench_borg(directory: Path, raw: int, work: Path) -> dict[str, float]:
    if not shutil.which("borg"):
        return {"error": "borg missing: apt-get install borgbackup"}  # type: ignore[dict-item]
    repo = work / "borg"
    env = {**os.environ, "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
           "BORG_BASE_DIR": str(work / "borg-base")}
    subprocess.run(["borg", "init", "-e", "none", str(repo)], check=True, env=env, capture_output=True)
    t, cpu = time.perf_counter(), _child_cpu()
    subprocess.run(["borg", "create", "--compression", "zstd,3", f"{repo}::a", "."], check=True, env=env,
                   cwd=directory, capture_output=True)
    secs, cpu = time.perf_counter() - t, _child_cpu() - cpu
    size = sum(f.stat().st_size for f in (repo / "data").rglob("*") if f.is_file())
    return {"stored": size, "ratio": size / raw, "seconds": secs, "ingest_mbps": raw / secs / MB,
            "cpu_s": cpu, "ingest_mb_per_cpu_s": raw / cpu / MB}


def bench_rss(gb: float, work: Path) -> dict[str, float]:
    """Put a generated wheel-like zip of ``gb`` GB (one huge deflated member + many small) in a
    child process and report its peak RSS."""
    path = work / "huge-1.0-py3-none-any.whl"
    script = f"""
import zipfile, os
with zipfile.ZipFile({str(path)!r}, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
    for i in range(200):
        z.writestr(f"huge/m{{i}}.py", os.urandom(2000).hex())
    with z.open("huge/blob.bin", "w", force_zip64=True) as f:
        block = os.urandom(1 << 20)
        for i in range(int({gb} * 1024)):
            f.write(block[: (1 << 20) - (i % 7)])
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    size = path.stat().st_size
    child = f"""
import resource, time, sys
from casstore import Store
s = Store.directory({str(work / 'rss-store')!r})
t = time.perf_counter()
info = s.put({str(path)!r})
put = time.perf_counter() - t
t = time.perf_counter()
with s.open(info.filename) as f:
    while f.read(1 << 20):
        pass
read = time.perf_counter() - t
print(info.layout, put, read, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    out = subprocess.run([sys.executable, "-c", child], check=True, capture_output=True, text=True).stdout.split()
    path.unlink()
    return {"size": size, "layout": out[0], "put_s": float(out[1]), "read_s": float(out[2]),  # type: ignore[dict-item]
            "peak_rss_mb": int(out[3]) / 1024}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=sorted(corpus_mod.CORPORA), default=None)
    ap.add_argument("--tiers", default="compact,fast")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-anchors", action="store_true", help="skip borg and tar|zstd")
    ap.add_argument("--rss-gb", type=float, default=0, help="also measure put of a generated file this big")
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args(argv)
    results: dict[str, object] = {}
    work = Path(tempfile.mkdtemp(prefix="casstore-bench-", dir=os.environ.get("BENCH_TMP")))
    try:
        if args.corpus:
            files = corpus_mod.fetch(args.corpus)
            directory = files[0].parent
            raw = sum(p.stat().st_size for p in files)
            wheels = sum(p.name.endswith(".whl") for p in files)
            print(f"corpus {args.corpus}: {len(files)} files ({wheels} wheels, {len(files) - wheels} sdists), "
                  f"{raw / MB:.1f} MB")
            t = time.perf_counter()
            originals = {p.name: _hash(p) for p in files}
            b3 = raw / (time.perf_counter() - t) / MB
            print(f"BLAKE3-only hashing (1 thread, files from page cache): {b3:.0f} MB/s")
            results.update(corpus=args.corpus, files=len(files), raw=raw, blake3_mbps=b3)
            for tier in filter(None, args.tiers.split(",")):
                r = bench_casstore(files, raw, tier, args.jobs, work, originals)
                results[f"casstore_{tier}"] = r
                print(f"casstore {tier:7} stored/raw {r['ratio']:.3f}  ingest {r['ingest_mbps']:.1f} MB/s "
                      f"({args.jobs} procs)  read+verify {r['read_mbps']:.1f} MB/s ({args.jobs} procs)  "
                      f"round trip OK for all {len(files)} files  {r['layouts']}")
                print(f"    per CPU second: ingest {r['ingest_mb_per_cpu_s']:.1f} MB, "
                      f"read+verify {r['read_mb_per_cpu_s']:.1f} MB")
            if not args.no_anchors:
                for level, long in ((3, "--long"), (19, "--long=27")):
                    r = bench_tar_zstd(directory, raw, level, long)
                    results[f"tar_zstd{level}"] = r
                    print(f"tar | zstd -{level} {long:10} stored/raw {r.get('ratio', float('nan')):.3f}  "
                          f"{r.get('seconds', 0):.0f} s  {r.get('error', '')}")
                r = bench_borg(directory, raw, work)
                results["borg"] = r
                print(f"borg create zstd,3   stored/raw {r.get('ratio', float('nan')):.3f}  "
                      f"ingest {r.get('ingest_mbps', 0):.1f} MB/s "
                      f"({r.get('ingest_mb_per_cpu_s', 0):.1f} MB per CPU second)  {r.get('error', '')}")
        if args.rss_gb:
            r = bench_rss(args.rss_gb, work)
            results["rss"] = r
            print(f"put of a {r['size'] / 1e9:.2f} GB generated zip ({r['layout']}): peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB, put {r['put_s']:.0f} s, read+verify {r['read_s']:.0f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    _ = resource
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
