"""Rebuild coverage of the verifier on the projects that hold PyPI's platform-wheel bytes.

    python benchmarks/coverage_bench.py [--target T]... [--project P]... [--limit N] [--timeout S]
                                        [--refresh-list] [--fresh] [--no-anchor]

The projects: those among the 300 most-downloaded (benchmarks/data/top-pypi-300.json, how it was derived is
in the file) that publish platform wheels, with their Linux platform-wheel bytes over all releases, read
from PyPI's PEP 691/700 pages (benchmarks/data/coverage-projects.json; `--refresh-list` reads the pages
again). For each project the latest release's sdist is pulled into a local store with `casstore pull`, and
verified (two builds under the default variations, sandboxed) for each target; the anchor is a native gcc
`pip wheel` of the same sdist with the same pinned build dependencies (x86_64 only: it is this host).

Per project and target: build kind, grade, cause, verification time and its ratio to the gcc build. The
headline: the share of those projects' Linux platform-wheel bytes whose latest release has a reproducible
recipe — (a) by project (a project counts when its latest release is reproducible for every target run),
(b) by architecture (the bytes of x86_64 glibc wheels count when x86_64 is reproducible, aarch64 likewise;
wheels of architectures or libcs not run here never count).

Results are kept per (sdist, target) in benchmarks/results/coverage.json as they come in, so an interrupted
run resumes where it stopped (`--fresh` starts over); the table is printed and written as Markdown, and the
plot goes to docs/images/coverage.png.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import functools
import json
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from packaging.utils import canonicalize_name, parse_wheel_filename
from rebuild_bench import gcc_wheel

from casstore.index import pypi

CACHE = REPO / ".cache" / "coverage"
TOP = REPO / "benchmarks" / "data" / "top-pypi-300.json"
PROJECTS = REPO / "benchmarks" / "data" / "coverage-projects.json"
RESULTS = REPO / "benchmarks" / "results" / "coverage.json"
PLOT = REPO / "docs" / "images" / "coverage.png"
TARGETS = ("x86_64-linux-gnu.2.17", "aarch64-linux-gnu.2.17")
ARCH_OF_TARGET = {"x86_64-linux-gnu.2.17": "x86_64", "aarch64-linux-gnu.2.17": "aarch64"}


# ---- the project list ------------------------------------------------------------------------------------


_LINUX = re.compile(r"^(?P<os>manylinux_\d+_\d+|musllinux_\d+_\d+|manylinux\d*|linux)_(?P<arch>.+)$")


def _wheel_class(filename: str) -> tuple[str, str] | None:
    """(os, arch) of a platform wheel: ('linux', 'x86_64') for manylinux and linux tags, ('musllinux',
    'aarch64'), ('other', tag) for macOS, Windows and the rest; None for a pure wheel or a bad name."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except ValueError:
        return None
    plat = next(iter(tags)).platform
    if plat == "any":
        return None
    m = _LINUX.match(plat)
    if m is None:
        return "other", plat
    return ("musllinux" if m["os"].startswith("musl") else "linux"), m["arch"]


def project_row(name: str, files: list[pypi.RemoteFile]) -> dict[str, Any] | None:
    """What the benchmark needs of one project's page: Linux platform-wheel bytes by architecture (all
    releases; manylinux and linux tags under the arch, musllinux under musl_<arch>), bytes of other platform wheels, and the latest release that has an sdist (not yanked, not a
    pre-release). None when the project has no platform wheel."""
    linux: collections.Counter[str] = collections.Counter()
    other = 0
    for f in files:
        if f.kind != "wheel":
            continue
        cls = _wheel_class(f.filename)
        if cls is None:
            continue
        if cls[0] in ("linux", "musllinux"):
            linux[cls[1] if cls[0] == "linux" else f"musl_{cls[1]}"] += f.size or 0
        else:
            other += f.size or 0
    if not linux and not other:
        return None
    sdists = [f for f in files if f.kind == "sdist" and not f.yanked and not f.version.is_prerelease]
    latest = max(sdists, key=lambda f: f.version, default=None)
    return {
        "project": canonicalize_name(name),
        "linux_bytes": sum(linux.values()),
        "linux_bytes_by_arch": dict(sorted(linux.items())),
        "other_platform_bytes": other,
        "latest_sdist": latest.filename if latest else None,
        "latest_version": str(latest.version) if latest else None,
    }


def refresh_list() -> dict[str, Any]:
    names = [p["project"] for p in json.loads(TOP.read_text())["projects"]]
    rows, errors = [], []

    def one(name: str) -> tuple[str, list[pypi.RemoteFile] | str]:
        try:
            return name, pypi.list_files(name)
        except Exception as e:  # noqa: BLE001 -- one page's failure is reported, not fatal
            return name, f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(8) as pool:  # polite: eight pages at a time
        for name, got in pool.map(one, names):
            if isinstance(got, str):
                errors.append({"project": name, "error": got})
                continue
            row = project_row(name, got)
            if row:
                rows.append(row)
    rows.sort(key=lambda r: -r["linux_bytes"])
    data = {
        "derived": f"{TOP.name}'s projects that publish platform wheels; bytes from PyPI's PEP 691/700 pages "
                   "(every release, every file's size); latest = newest non-yanked final release with an sdist",
        "read": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/coverage_bench.py --refresh-list",
        "errors": errors,
        "projects": rows,
    }
    PROJECTS.write_text(json.dumps(data, indent=1) + "\n")
    return data


# ---- one project ------------------------------------------------------------------------------------------


def casstore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "casstore.cli", "--store", str(CACHE / "store"), "--rebuilder", "none",
                           *args], capture_output=True, text=True, check=False)


def pull_sdist(row: dict[str, Any], dest: Path) -> Path:
    """The latest sdist, through `casstore pull` into the benchmark's store, exported (verified) to `dest`."""
    name = row["latest_sdist"]
    path = dest / name
    if path.is_file():
        return path
    r = casstore("pull", f"{row['project']}=={row['latest_version']}", "--kind", "sdist", "--cache",
                 str(CACHE / "downloads"))
    if r.returncode != 0:
        raise RuntimeError(f"casstore pull failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    dest.mkdir(parents=True, exist_ok=True)
    r = casstore("get", name, "-o", str(path))
    if r.returncode != 0:
        raise RuntimeError(f"casstore get {name} failed: {r.stderr.strip()}")
    return path


@functools.cache
def _page(project: str) -> tuple[pypi.RemoteFile, ...]:
    """A project's files on PyPI, read once per run (every target looks in the same page)."""
    return tuple(pypi.list_files(project))


def published_wheel(row: dict[str, Any], target: str, dest: Path, tag: str = "cp311") -> Path | None:
    """The wheel PyPI published for this release, this target's architecture (glibc) and `tag` (or abi3)."""
    arch = ARCH_OF_TARGET[target]
    files = pypi.select(_page(row["project"]), f"{row['project']}=={row['latest_version']}", kinds=("wheel",))
    best = None
    for f in files:
        _, _, _, tags = parse_wheel_filename(f.filename)
        if any(t.platform.startswith("manylinux") and t.platform.endswith("_" + arch)
               and (t.interpreter == tag or (t.abi == "abi3" and t.interpreter.startswith("cp3")))
               for t in tags):
            best = f
            break
    if best is None:
        return None
    return pypi.download(best, dest)


def run_one(row: dict[str, Any], target: str, *, timeout: float, anchor: bool) -> dict[str, Any]:
    from verifier import HOST_PYTHON, VARIATIONS, BuildSetup, PythonExcluded, choose_python, verify
    from verifier.grading.unbuildable import sdist_facts

    out: dict[str, Any] = {"project": row["project"], "version": row["latest_version"], "target": target,
                           "sdist": row["latest_sdist"]}
    work = CACHE / "work" / row["project"] / target
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sdist = pull_sdist(row, CACHE / "sdists")
    try:  # the wheel for the CPython verify() will choose (Requires-Python), the host's when none fits
        python = choose_python(sdist_facts(sdist, work)[1])
    except PythonExcluded:
        python = HOST_PYTHON
    try:
        published = published_wheel(row, target, CACHE / "published", "cp" + python.replace(".", ""))
    except Exception as e:  # noqa: BLE001 -- without a published wheel the grade still stands; say why
        published, out["published_error"] = None, f"{type(e).__name__}: {e}"
    out["published_wheel"] = published.name if published else None
    setup = BuildSetup(timeout=timeout, wheelhouse=CACHE.parent / "wheelhouse", zig_cache=CACHE.parent / "zig")
    t0 = time.monotonic()
    (rec,) = verify(sdist, (target,), workdir=work / "verify", setup=setup, variations=VARIATIONS,
                    published={target: published} if published else None, diffoscope=False)
    out["verify_s"] = round(time.monotonic() - t0, 1)
    d = rec.to_json()
    out["grade"] = rec.grade
    out["build_kind"] = d.get("build_kind")
    out["cause"] = "" if rec.grade == "reproducible" else (
        "; ".join(rec.explanation.causes) if rec.explanation and rec.explanation.causes else "; ".join(rec.reasons))
    out["build_s"] = [b.seconds for b in rec.builds]
    out["published"] = rec.published
    if anchor and target == "x86_64-linux-gnu.2.17" and rec.builds and rec.builds[0].ok:
        ok, secs = gcc_wheel(sdist, work, setup.wheelhouse)  # type: ignore[arg-type]
        out["gcc_ok"], out["gcc_s"] = ok, round(secs, 1)
        if ok and secs > 0:
            out["zig_over_gcc"] = round(rec.builds[0].seconds / secs, 2)
    shutil.rmtree(work, ignore_errors=True)
    return out


# ---- the headline, the table, the plot --------------------------------------------------------------------


def headline(projects: list[dict[str, Any]], results: list[dict[str, Any]], targets: tuple[str, ...]) -> dict[str, Any]:
    by = {(r["project"], r["target"]): r for r in results}
    run = [p for p in projects if all((p["project"], t) in by for t in targets)]
    total = sum(p["linux_bytes"] for p in run)
    repro_project = sum(p["linux_bytes"] for p in run if all(by[p["project"], t]["grade"] == "reproducible"
                                                               for t in targets))
    repro_arch = sum(p["linux_bytes_by_arch"].get(ARCH_OF_TARGET[t], 0) for p in run for t in targets
                     if by[p["project"], t]["grade"] == "reproducible")
    all_total = sum(p["linux_bytes"] for p in projects)
    grades = collections.Counter(by[p["project"], t]["grade"] for p in run for t in targets)
    return {
        "projects_run": len(run), "projects_listed": len(projects),
        "linux_bytes_run": total, "linux_bytes_listed": all_total,
        "share_by_project": repro_project / total if total else 0.0,
        "share_by_arch": repro_arch / total if total else 0.0,
        "share_of_listed_by_project": repro_project / all_total if all_total else 0.0,
        "grades": dict(grades),
    }


def table(projects: list[dict[str, Any]], results: list[dict[str, Any]], targets: tuple[str, ...]) -> str:
    by = {(r["project"], r["target"]): r for r in results}
    lines = ["| project | Linux GB | kind | " + " | ".join(f"{t} grade" for t in targets)
             + " | verify s (x86_64) | ÷ gcc | cause |", "|---|---|---|" + "---|" * len(targets) + "---|---|---|"]
    for p in projects:
        rs = [by.get((p["project"], t)) for t in targets]
        if not any(rs):
            continue
        first = next(r for r in rs if r)
        x86 = by.get((p["project"], targets[0])) or {}
        causes = "; ".join(sorted({(r.get("cause") or "")[:160] for r in rs if r and r.get("cause")}))
        lines.append(f"| {p['project']} {p['latest_version']} | {p['linux_bytes'] / 1e9:.1f} | "
                     f"{first.get('build_kind') or ''} | " + " | ".join(r["grade"] if r else "–" for r in rs)
                     + f" | {x86.get('verify_s', '')} | {x86.get('zig_over_gcc', '')} | {causes.replace('|', '/')} |")
    return "\n".join(lines)


def plot(projects: list[dict[str, Any]], results: list[dict[str, Any]], targets: tuple[str, ...], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"reproducible": "#2a9d3f", "repeatable": "#e9c46a", "broken": "#d62828", "inconclusive": "#8d99ae"}
    by = {(r["project"], r["target"]): r for r in results}
    run = [p for p in projects if all((p["project"], t) in by for t in targets)][:40]
    fig, ax = plt.subplots(figsize=(11, 0.28 * len(run) + 1.6))
    for i, p in enumerate(run):
        left = 0.0
        for t in targets:
            b = p["linux_bytes_by_arch"].get(ARCH_OF_TARGET[t], 0) / 1e9
            ax.barh(i, b, left=left, color=colors.get(by[p["project"], t]["grade"], "#000"), edgecolor="white")
            left += b
        rest = p["linux_bytes"] / 1e9 - left
        ax.barh(i, rest, left=left, color="#e0e0e0", edgecolor="white")
    ax.set_yticks(range(len(run)), [p["project"] for p in run], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Linux platform-wheel bytes on PyPI, all releases (GB): x86_64 | aarch64 | other arches (grey)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    ax.legend(handles, list(colors), loc="lower right", fontsize=8)
    ax.set_title("Latest release rebuilt with zig: grade per target (coverage_bench.py)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", action="append", dest="targets", help=f"default: {', '.join(TARGETS)}")
    ap.add_argument("--project", action="append", dest="projects", help="only these projects (repeatable)")
    ap.add_argument("--limit", type=int, help="only the first N projects by Linux bytes")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per build command (default 3600)")
    ap.add_argument("--refresh-list", action="store_true", help="read the 300 PyPI pages again")
    ap.add_argument("--fresh", action="store_true", help="forget earlier results")
    ap.add_argument("--no-anchor", action="store_true", help="skip the gcc pip wheel")
    ap.add_argument("--report-only", action="store_true", help="print the table and plot from kept results")
    args = ap.parse_args(argv)
    targets = tuple(args.targets or TARGETS)
    data = refresh_list() if args.refresh_list or not PROJECTS.exists() else json.loads(PROJECTS.read_text())
    projects = [p for p in data["projects"] if p["latest_sdist"]]
    if args.projects:
        want = {canonicalize_name(p) for p in args.projects}
        projects = [p for p in projects if p["project"] in want]
    if args.limit:
        projects = projects[: args.limit]
    results: list[dict[str, Any]] = [] if args.fresh or not RESULTS.exists() else json.loads(RESULTS.read_text())
    done = {(r["project"], r["version"], r["target"]) for r in results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for p in projects:
            for t in targets:
                if (p["project"], p["latest_version"], t) in done:
                    continue
                t0 = time.monotonic()
                try:
                    row = run_one(p, t, timeout=args.timeout, anchor=not args.no_anchor)
                except Exception as e:  # noqa: BLE001 -- one project's failure must not end the run
                    row = {"project": p["project"], "version": p["latest_version"], "target": t,
                           "sdist": p["latest_sdist"], "grade": "error", "cause": f"{type(e).__name__}: {e}",
                           "verify_s": round(time.monotonic() - t0, 1)}
                results = [r for r in results if (r["project"], r["target"]) != (p["project"], t)] + [row]
                RESULTS.write_text(json.dumps(results, indent=1) + "\n")
                print(f"{p['project']} {p['latest_version']} [{t}]: {row['grade']} in {row.get('verify_s')} s"
                      f"{' — ' + row['cause'][:200] if row.get('cause') else ''}", flush=True)
    current = [r for r in results if any(r["project"] == p["project"] and r["version"] == p["latest_version"]
                                         for p in projects)]
    md = table(projects, current, targets)
    head = headline(projects, current, targets)
    print(md)
    print(json.dumps(head, indent=1))
    (RESULTS.with_suffix(".md")).write_text(md + "\n\n```json\n" + json.dumps(head, indent=1) + "\n```\n")
    if current:
        plot(projects, current, targets, PLOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
