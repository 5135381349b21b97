"""A bounded load test of ``casstore serve`` on 127.0.0.1 with wrk: many connections at once.

Starts the server (uvicorn, the bounded protocol of casstore.index.server) over a small disk store, then
runs ``wrk`` against a project page, a file download and a refused traversal path, first with 16
connections (the anchor: the load of index_bench.py) and then with ``--connections`` (default 200).
Reports requests/s, p99 latency, non-2xx/3xx answers and socket errors, the server's peak RSS, and
checks afterwards that the server still answers and serves the right bytes::

    nice -n 10 python benchmarks/http_load.py --seconds 10 --connections 200
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from casstore import Store
from casstore.index.server import make_app, running
from tests.conftest import make_sdist, make_wheel


def _hwm_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def wrk(url: str, connections: int, seconds: int) -> dict[str, object]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    kinds = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()))) if errors else {}
    total = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "p99_ms": round(float(p99.group(1)) * scale[p99.group(2)], 2) if p99 else None,
            "requests": int(total.group(1)) if total else None,
            "non_2xx_3xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": {k: v for k, v in kinds.items() if v}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=200)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk missing: install the Debian package wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.directory(Path(tmp) / "store")
        wheel, wdata = make_wheel("demo", "1.0", files={"demo/__init__.py": b"VALUE = 1\n" * 5000})
        sdist, sdata = make_sdist("demo", "1.0")
        store.put(io.BytesIO(wdata), wheel)
        store.put(io.BytesIO(sdata), sdist)
        results: dict[str, object] = {}
        with running(make_app(store, count_requests=False)) as base:
            targets = {"page": "/simple/demo/", "file": f"/files/{wheel}", "traversal_404": "/files/..%2fcatalog.sqlite"}
            for name, path in targets.items():
                for c in (16, args.connections):
                    results[f"{name}@{c}"] = wrk(base + path, c, args.seconds)
            r = httpx.get(f"{base}/files/{wheel}")
            results["after"] = {"status": r.status_code, "same_bytes": r.content == wdata,
                                "page": httpx.get(f"{base}/simple/demo/").status_code}
        results["server_process_peak_rss_mib"] = _hwm_kib() // 1024
        store.close()
    print(json.dumps(results, indent=1))
    ok = results["after"] == {"status": 200, "same_bytes": True, "page": 200}  # type: ignore[comparison-overlap]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
