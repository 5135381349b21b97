"""Ingest and read+verify throughput of each store backend on the same corpus, in one run.

    python benchmarks/backend_bench.py [--corpus small] [--jobs 1] [--tier compact|fast]

Backends: the embedded default (directory + SQLite; the anchor), directory + PostgreSQL, S3 (Ceph
radosgw) + SQLite, S3 + PostgreSQL. The servers are the ones named by $CASSTORE_TEST_S3 and
$CASSTORE_TEST_PG, or started here with .ci/services/radosgw and .ci/services/postgres (and stopped at
the end). Every file is read back and compared with the original bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

from casstore import open_store

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / ".ci" / "services"


@contextlib.contextmanager
def _service(name: str, env: str) -> Iterator[str]:
    if os.environ.get(env):
        yield os.environ[env]
        return
    state = Path(tempfile.mkdtemp(prefix=f"casstore-bench-{name}-"))
    state.chmod(0o755)
    try:
        out = subprocess.run([str(SERVICES / name), "start", str(state / "s")], check=True, capture_output=True,
                             text=True, timeout=300).stdout.splitlines()
        if name == "radosgw":
            creds = dict(line.split("=", 1) for line in out[1:] if "=" in line)
            yield out[0] + "&" + urlencode({"access_key_id": creds["AWS_ACCESS_KEY_ID"],
                                            "secret_access_key": creds["AWS_SECRET_ACCESS_KEY"]})
        else:
            yield out[0]
    finally:
        subprocess.run([str(SERVICES / name), "stop", str(state / "s")], capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


def _pg_schema(url: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode({"options": f"-csearch_path={name}"})) if q)
    return urlunsplit(parts._replace(query=query))


def _s3_prefix(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"{parts.path.rstrip('/')}/bench-{uuid.uuid4().hex[:12]}").geturl()


def _put(args: tuple[str, str | None, list[str], str]) -> None:
    location, catalog, paths, tier = args
    with open_store(location, catalog=catalog, create=False, tier=tier) as s:
        for p in paths:
            s.put(p)


def _read(args: tuple[str, str | None, list[str], str]) -> int:
    location, catalog, paths, _tier = args
    n = 0
    with open_store(location, catalog=catalog, create=False) as s:
        for p in paths:
            data = s.get(Path(p).name)
            if data != Path(p).read_bytes():
                raise SystemExit(f"{p}: read back different bytes")
            n += len(data)
    return n


def bench(location: str, catalog: str | None, files: list[Path], jobs: int, tier: str) -> dict[str, float]:
    raw = sum(f.stat().st_size for f in files)
    open_store(location, catalog=catalog).close()
    shards = [[str(f) for f in files[i::jobs]] for i in range(jobs)]
    with ProcessPoolExecutor(jobs) as pool:
        t = time.perf_counter()
        list(pool.map(_put, [(location, catalog, s, tier) for s in shards]))
        ingest = time.perf_counter() - t
        t = time.perf_counter()
        got = sum(pool.map(_read, [(location, catalog, s, tier) for s in shards]))
        read = time.perf_counter() - t
    assert got == raw
    return {"ingest_mb_s": raw / ingest / 1e6, "read_mb_s": raw / read / 1e6, "files": len(files)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=sorted(corpus.CORPORA), default="small")
    ap.add_argument("--jobs", type=int, default=1, help="processes putting and reading at once")
    ap.add_argument("--tier", choices=("compact", "fast"), default="compact")
    args = ap.parse_args(argv)
    files = corpus.fetch(args.corpus)
    raw = sum(f.stat().st_size for f in files)
    print(f"corpus {args.corpus}: {len(files)} files, {raw / 1e6:.1f} MB, jobs {args.jobs}, tier {args.tier}")
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="casstore-bench-") as work, \
            _service("postgres", "CASSTORE_TEST_PG") as pg, _service("radosgw", "CASSTORE_TEST_S3") as s3:
        w = Path(work)
        rows["directory + SQLite (default)"] = bench(str(w / "d1"), None, files, args.jobs, args.tier)
        rows["directory + PostgreSQL"] = bench(str(w / "d2"), _pg_schema(pg), files, args.jobs, args.tier)
        rows["S3 (radosgw) + SQLite"] = bench(_s3_prefix(s3), str(w / "c3.sqlite"), files, args.jobs, args.tier)
        rows["S3 (radosgw) + PostgreSQL"] = bench(_s3_prefix(s3), _pg_schema(pg), files, args.jobs, args.tier)
    anchor = rows["directory + SQLite (default)"]
    print(f"{'backend':32} {'ingest MB/s':>12} {'x default':>10} {'read+verify MB/s':>17} {'x default':>10}")
    for name, r in rows.items():
        print(f"{name:32} {r['ingest_mb_s']:12.1f} {r['ingest_mb_s'] / anchor['ingest_mb_s']:10.2f} "
              f"{r['read_mb_s']:17.1f} {r['read_mb_s'] / anchor['read_mb_s']:10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
