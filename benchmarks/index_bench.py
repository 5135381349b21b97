"""Simple-index serving: casstore serve vs pypiserver (the anchor) on the same files, in the same run.

Measures, on loopback only:
  * project page requests/s and p50/p99 latency (wrk -t2 -c16 if installed, else an httpx async
    load generator), for the JSON page (what pip asks for) and the HTML page;
  * file download requests/s and p50/p99 (a ~10 KB wheel);
  * wall time of ``pip install --no-cache-dir --index-url ...`` of a set of packages into fresh
    venvs, alternating servers, median of ``--repeat`` runs.

Usage:  python benchmarks/index_bench.py [--duration 10] [--repeat 3] [--json-out FILE]
Needs:  pypiserver (pip), wrk (Debian, optional). Files come from PyPI into .cache/casstore/downloads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

from casstore import Store
from casstore.index import pypi as _pypi

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "casstore" / "downloads"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"

# Packages pip installs (no dependencies outside the set); markupsafe is a C extension.
INSTALL = ["markupsafe==3.0.2", "six==1.17.0", "idna==3.10", "certifi==2024.12.14", "attrs==24.3.0",
           "packaging==24.2", "iniconfig==2.0.0", "pluggy==1.5.0", "pyparsing==3.2.0"]
PAGE_PROJECT = "markupsafe"  # its page lists every wheel of the release (~60 files): a realistic page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def corpus() -> list[Path]:
    """Every wheel of the release for PAGE_PROJECT; for the others the wheel this interpreter installs.
    (Wheels only: pip installs them, and ingest speed is not what this benchmark measures.)"""
    supported = {str(t) for t in sys_tags()}
    paths = []
    for spec in INSTALL:
        name = spec.split("==")[0]
        files = _pypi.select(_pypi.list_files(name), spec)
        for f in files:
            if f.kind != "wheel":
                continue
            if name != PAGE_PROJECT:
                tags = parse_wheel_filename(f.filename)[3]
                if not any(str(t) in supported for t in tags):
                    continue
            paths.append(_pypi.download(f, CACHE))
    return paths


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {url}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not come up: {url}")


def wrk(url: str, duration: int, accept: str | None) -> dict[str, float]:
    cmd = ["wrk", "-t2", "-c16", f"-d{duration}s", "--latency", url]
    if accept:
        cmd[1:1] = ["-H", f"Accept: {accept}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"), "non_2xx": int(errors.group(1)) if errors else 0}


async def _httpx_load(url: str, duration: int, accept: str | None, conns: int = 16) -> dict[str, float]:
    lat: list[float] = []
    headers = {"Accept": accept} if accept else {}
    stop = time.monotonic() + duration
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=conns)) as c:
        async def worker() -> None:
            while time.monotonic() < stop:
                t = time.perf_counter()
                (await c.get(url, headers=headers)).raise_for_status()
                lat.append((time.perf_counter() - t) * 1000)

        await asyncio.gather(*(worker() for _ in range(conns)))
    lat.sort()
    return {"rps": len(lat) / duration, "p50_ms": lat[len(lat) // 2], "p99_ms": lat[int(len(lat) * 0.99)],
            "non_2xx": 0}


def load(url: str, duration: int, accept: str | None = None) -> dict[str, float]:
    if shutil.which("wrk"):
        return wrk(url, duration, accept) | {"tool": "wrk -t2 -c16"}  # type: ignore[operator]
    return asyncio.run(_httpx_load(url, duration, accept)) | {"tool": "httpx async, 16 connections"}  # type: ignore[operator]


def pip_install_time(index: str, packages: list[str], work: Path) -> float:
    venv = Path(tempfile.mkdtemp(prefix="venv-", dir=work))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=clean_env())
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-cache-dir", "--index-url", index,
           *packages]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"pip install from {index} failed:\n{proc.stderr}")
    shutil.rmtree(venv)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per load run (default 10)")
    ap.add_argument("--repeat", type=int, default=3, help="pip install runs per server (default 3)")
    ap.add_argument("--json-out", type=Path, default=ROOT / "benchmarks" / "results" / "index_bench.json")
    args = ap.parse_args(argv)

    files = corpus()
    work = Path(tempfile.mkdtemp(prefix="casstore-index-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        pkgdir = work / "packages"
        pkgdir.mkdir()
        for p in files:
            os.link(p, pkgdir / p.name) if p.stat().st_dev == pkgdir.stat().st_dev else shutil.copy(p, pkgdir)
        store_dir = work / "store"
        with Store.directory(store_dir) as store:
            for p in files:
                store.put(p)
        cport, pport = free_port(), free_port()
        casstore_cmd = [sys.executable, "-m", "casstore.cli", "--store", str(store_dir), "serve",
                        "--port", str(cport), "--no-access-log"]
        pypiserver_cmd = [shutil.which("pypi-server") or "pypi-server", "run", "-i", "127.0.0.1",
                          "-p", str(pport), "--log-stream", "none", str(pkgdir)]
        procs.append(subprocess.Popen(casstore_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(pypiserver_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        servers = {
            "casstore": (f"http://127.0.0.1:{cport}", "/files/"),
            "pypiserver": (f"http://127.0.0.1:{pport}", "/packages/"),
        }
        for (base, _), proc in zip(servers.values(), procs):
            wait_up(base + "/simple/", proc)
        six = next(p.name for p in files if p.name.startswith("six-") and p.name.endswith(".whl"))
        results: dict[str, object] = {"files": len(files), "page_project": PAGE_PROJECT,
                                      "install": [s.split("==")[0] for s in INSTALL]}
        for name, (base, files_prefix) in servers.items():
            page = f"{base}/simple/{PAGE_PROJECT}/"
            httpx.get(page, headers={"Accept": JSON_ACCEPT})  # warm (casstore extracts METADATA once)
            r = {
                "page_json": load(page, args.duration, JSON_ACCEPT),
                "page_html": load(page, args.duration, "text/html"),
                "file": load(f"{base}{files_prefix}{six}", args.duration),
            }
            results[name] = r
        times: dict[str, list[float]] = {n: [] for n in servers}
        packages = [s.split("==")[0] for s in INSTALL]
        for _ in range(args.repeat):
            for name, (base, _) in servers.items():
                times[name].append(pip_install_time(f"{base}/simple/", packages, work))
        for name in servers:
            results[name]["pip_install_s"] = {"median": statistics.median(times[name]),  # type: ignore[index]
                                              "runs": times[name]}
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2))
    print(f"{results['files']} files; project page: {PAGE_PROJECT}; load: {results['casstore']['page_json']['tool']}")  # type: ignore[index]
    print("| server | page JSON req/s | p50 / p99 ms | page HTML req/s | p99 ms | file req/s | p99 ms | pip install s (median) | runs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in servers:
        r = results[name]
        pj, ph, fl = r["page_json"], r["page_html"], r["file"]  # type: ignore[index]
        print(f"| {name} | {pj['rps']:.0f} | {pj['p50_ms']:.2f} / {pj['p99_ms']:.2f} | {ph['rps']:.0f} | "
              f"{ph['p99_ms']:.2f} | {fl['rps']:.0f} | {fl['p99_ms']:.2f} | {r['pip_install_s']['median']:.2f} | "
              f"{' '.join(f'{x:.2f}' for x in r['pip_install_s']['runs'])} |")  # type: ignore[index]
    return 0


if __name__ == "__main__":
    sys.exit(main())
