"""Rebuild coverage of the verifier on the projects that hold PyPI's platform-wheel bytes.

    python benchmarks/coverage_bench.py [--target T]... [--project P]... [--limit N] [--timeout S]
                                        [--refresh-list] [--fresh] [--no-anchor] [--report-only]

The projects: those among the 300 most-downloaded (benchmarks/data/top-pypi-300.json, how it was derived is
in the file) that publish platform wheels, with their platform-wheel bytes over all releases by OS (Linux,
macOS, Windows, other) and architecture, read from PyPI's PEP 691/700 pages
(benchmarks/data/coverage-projects.json; `--refresh-list` reads the pages again; project_row says what
each key holds — `other_platform_bytes` means "neither Linux, macOS nor Windows" since 2026-12-08). For each project the latest release's sdist is pulled into a local store with `casstore pull`, and
verified (two builds under the default variations, sandboxed) for each target; the anchor is a native gcc
`pip wheel` of the same sdist with the same pinned build dependencies (x86_64 only: it is this host).

Per project and target: build kind, grade, cause, verification time and its ratio to the gcc build. The
headline: the share of those projects' Linux platform-wheel bytes whose latest release has a reproducible
recipe — (a) by project (a project counts when its latest release is reproducible for every target run),
(b) by architecture (the bytes of x86_64 glibc wheels count when x86_64 is reproducible, aarch64 likewise;
wheels of architectures or libcs not run here never count); and (c) `share_of_platform_bytes_by_arch`, over
ALL platform-wheel bytes of the run projects (Linux + macOS + Windows + other), the bytes covered by any
target with a reproducible result (COVERS: x86_64-linux-gnu.2.17 -> Linux x86_64, aarch64-linux-gnu.2.17
-> Linux aarch64, x86_64-macos -> macOS x86_64, aarch64-macos -> macOS arm64, x86_64-windows -> win_amd64,
aarch64-windows -> win_arm64; a universal2 wheel only when both macOS targets are reproducible; win32 and
other never), with a per-OS breakdown (`by_os`). `--target x86_64-macos` etc. run those targets.
`--report-only` prints the table and headline from the kept results without building.

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
# target -> (os, arch): the bytes a reproducible result for the target covers, the key into the project row's
# linux_bytes_by_arch / macos_bytes_by_arch / windows_bytes_by_arch. A macOS name with a minimum version
# (`aarch64-macos.11.0`) covers what its base name does (covers()). universal2 macOS wheels (both arches in
# one file) are covered by no single target: only when BOTH x86_64-macos and aarch64-macos are reproducible
# (UNIVERSAL2). win32 (32-bit x86 Windows) is not built, so never covered.
COVERS: dict[str, tuple[str, str]] = {
    "x86_64-linux-gnu.2.17": ("linux", "x86_64"),
    "aarch64-linux-gnu.2.17": ("linux", "aarch64"),
    "x86_64-linux-musl": ("linux", "musl_x86_64"),
    "aarch64-linux-musl": ("linux", "musl_aarch64"),
    "x86_64-macos": ("macos", "x86_64"),
    "aarch64-macos": ("macos", "arm64"),
    "x86_64-windows": ("windows", "amd64"),
    "aarch64-windows": ("windows", "arm64"),
}
UNIVERSAL2 = (("macos", "x86_64"), ("macos", "arm64"))
OSES = ("linux", "macos", "windows")
# kept for callers of the Linux-only version: the arch of each target in its own wheel-tag spelling
ARCH_OF_TARGET = {t: arch for t, (_, arch) in COVERS.items()}


def covers(target: str) -> tuple[str, str] | None:
    """(os, arch) whose platform-wheel bytes a reproducible `target` covers; None for a target not mapped."""
    if target in COVERS:
        return COVERS[target]
    base, _, _ = target.partition(".")
    return COVERS.get(base) if base.endswith("-macos") else None


def _os_bytes(p: dict[str, Any], os_: str) -> dict[str, int]:
    """A project row's bytes by arch for one OS (rows read before macOS/Windows were counted have none)."""
    return p.get(f"{os_}_bytes_by_arch") or {}


def platform_bytes(p: dict[str, Any]) -> int:
    """All platform-wheel bytes of a project row (an old row: Linux + other, which then held the rest)."""
    return p.get("platform_bytes", p["linux_bytes"] + p.get("other_platform_bytes", 0))


def covered_bytes(p: dict[str, Any], reproducible: set[tuple[str, str]]) -> dict[str, int]:
    """Per OS, the bytes of `p` covered by reproducible (os, arch) pairs; universal2 only with both macOS."""
    out = {os_: sum(_os_bytes(p, os_).get(arch, 0) for o, arch in reproducible if o == os_) for os_ in OSES}
    if all(c in reproducible for c in UNIVERSAL2):
        out["macos"] += _os_bytes(p, "macos").get("universal2", 0)
    return out


# ---- the project list ------------------------------------------------------------------------------------


_LINUX = re.compile(r"^(?P<os>manylinux_\d+_\d+|musllinux_\d+_\d+|manylinux\d*|linux)_(?P<arch>.+)$")
_MACOS = re.compile(r"^macosx_\d+_\d+_(?P<arch>.+)$")
_WINDOWS = re.compile(r"^win(?:_(?P<arch>.+)|32)$")


def _platform_class(plat: str) -> tuple[str, str] | None:
    """(os, arch) of one platform tag, None when it is none of Linux, macOS, Windows. macOS arches as in the
    tag (x86_64, arm64, universal2, intel, fat64, ...), Windows 'amd64', 'arm64' and 'win32' (32-bit x86)."""
    if m := _LINUX.match(plat):
        return ("musllinux" if m["os"].startswith("musl") else "linux"), m["arch"]
    if m := _MACOS.match(plat):
        return "macos", m["arch"]
    if m := _WINDOWS.match(plat):
        return "windows", m["arch"] or "win32"
    return None


def _wheel_class(filename: str) -> tuple[str, str] | None:
    """(os, arch) of a platform wheel: ('linux', 'x86_64') for manylinux and linux tags, ('musllinux',
    'aarch64'), ('macos', 'arm64'), ('windows', 'amd64'), ('other', tag) for the rest; None for a pure
    wheel or a bad name.

    A wheel with several platform tags (`manylinux_2_17_x86_64.manylinux2014_x86_64`, or
    `macosx_10_9_x86_64.macosx_11_0_arm64`) is one file: it counts once, under the first tag in the
    filename's order that is Linux, macOS or Windows (so that last example counts as macOS x86_64 only)."""
    try:
        parse_wheel_filename(filename)  # validates; its tags are a frozenset, without the filename's order
    except ValueError:
        return None
    plats = filename[: -len(".whl")].split("-")[-1].split(".")
    if "any" in plats:
        return None
    for plat in plats:
        if cls := _platform_class(plat):
            return cls
    return "other", plats[0]


def project_row(name: str, files: list[pypi.RemoteFile]) -> dict[str, Any] | None:
    """What the benchmark needs of one project's page, all releases: Linux platform-wheel bytes by
    architecture (manylinux and linux tags under the arch, musllinux under musl_<arch>; `linux_bytes` is
    their sum), macOS platform-wheel bytes by the tag's arch (`x86_64`, `arm64`, `universal2`, `intel`, ...),
    Windows ones (`amd64`, `arm64`, `win32`), `platform_bytes` (every platform wheel: Linux + macOS + Windows
    + other) and the latest release that has an sdist (not yanked, not a pre-release). None when the project
    has no platform wheel.

    `other_platform_bytes` is the bytes of platform wheels that are neither Linux, macOS nor Windows. Before
    2026-12-08 (when macOS and Windows were added) it meant every non-Linux platform wheel, macOS and
    Windows included: lists read earlier have a larger `other_platform_bytes` and no macOS/Windows keys."""
    by_os: dict[str, collections.Counter[str]] = {o: collections.Counter() for o in ("linux", "macos", "windows")}
    other = 0
    for f in files:
        if f.kind != "wheel":
            continue
        cls = _wheel_class(f.filename)
        if cls is None:
            continue
        os_, arch = cls
        if os_ == "musllinux":
            os_, arch = "linux", f"musl_{arch}"
        if os_ == "other":
            other += f.size or 0
        else:
            by_os[os_][arch] += f.size or 0
    platform_bytes = sum(sum(c.values()) for c in by_os.values()) + other
    if not platform_bytes and not any(by_os.values()):
        return None
    sdists = [f for f in files if f.kind == "sdist" and not f.yanked and not f.version.is_prerelease]
    latest = max(sdists, key=lambda f: f.version, default=None)
    return {
        "project": canonicalize_name(name),
        "linux_bytes": sum(by_os["linux"].values()),
        "linux_bytes_by_arch": dict(sorted(by_os["linux"].items())),
        "macos_bytes_by_arch": dict(sorted(by_os["macos"].items())),
        "windows_bytes_by_arch": dict(sorted(by_os["windows"].items())),
        "other_platform_bytes": other,
        "platform_bytes": platform_bytes,
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
                   "(every release, every file's size), by OS (Linux, macOS, Windows, other) and arch of the first "
                   "Linux/macOS/Windows platform tag in each wheel's name; latest = newest non-yanked final "
                   f"release with an sdist; read {datetime.datetime.now(datetime.UTC).date().isoformat()}",
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


def _tag_fits(plat: str, target: str) -> bool:
    """Whether a published wheel's platform tag is one `target` builds (glibc manylinux, musllinux, a thin
    macOS arch, win_amd64/win_arm64; never universal2 or win32)."""
    cov = covers(target)
    if cov is None:
        return False
    os_, arch = cov
    if os_ == "linux":
        if arch.startswith("musl_"):
            return plat.startswith("musllinux") and plat.endswith("_" + arch[len("musl_"):])
        return plat.startswith("manylinux") and plat.endswith("_" + arch)
    cls = _platform_class(plat)
    return cls == (os_, arch)


def published_wheel(row: dict[str, Any], target: str, dest: Path, tag: str = "cp311") -> Path | None:
    """The wheel PyPI published for this release, this target's OS and architecture (glibc on Linux) and
    `tag` (or abi3)."""
    files = pypi.select(_page(row["project"]), f"{row['project']}=={row['latest_version']}", kinds=("wheel",))
    best = None
    for f in files:
        _, _, _, tags = parse_wheel_filename(f.filename)
        if any(_tag_fits(t.platform, target)
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
    """The Linux shares as before (over `targets`), and `share_of_platform_bytes_by_arch`: over the run
    projects (those with a result for every one of `targets`), the bytes covered by a reproducible result of
    ANY target in `results` (not only `targets`: whichever have results; a target without a result for a
    project is not reproducible), over all their platform-wheel bytes — Linux, macOS, Windows and other
    (other never counts, nor do win32 and macOS arches no target builds; universal2 only when both macOS
    targets are reproducible). `by_os` gives each OS's bytes, reproducible bytes and share of the platform
    bytes."""
    by = {(r["project"], r["target"]): r for r in results}
    run = [p for p in projects if all((p["project"], t) in by for t in targets)]
    total = sum(p["linux_bytes"] for p in run)
    repro_project = sum(p["linux_bytes"] for p in run if all(by[p["project"], t]["grade"] == "reproducible"
                                                               for t in targets))
    linux_targets = [(t, c[1]) for t in targets if (c := covers(t)) and c[0] == "linux"]
    repro_arch = sum(p["linux_bytes_by_arch"].get(arch, 0) for p in run for t, arch in linux_targets
                     if by[p["project"], t]["grade"] == "reproducible")
    all_total = sum(p["linux_bytes"] for p in projects)
    grades = collections.Counter(by[p["project"], t]["grade"] for p in run for t in targets)

    names = {p["project"] for p in run}
    reproducible: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
    with_results: set[str] = set()
    for r in results:
        if r["project"] in names:
            with_results.add(r["target"])
            if r["grade"] == "reproducible" and (c := covers(r["target"])):
                reproducible[r["project"]].add(c)
    plat_total = sum(platform_bytes(p) for p in run)
    by_os: dict[str, dict[str, Any]] = {}
    for os_ in (*OSES, "other"):
        b = sum(p.get("other_platform_bytes", 0) if os_ == "other" else sum(_os_bytes(p, os_).values())
                for p in run)
        rb = 0 if os_ == "other" else sum(covered_bytes(p, reproducible[p["project"]])[os_] for p in run)
        by_os[os_] = {"bytes": b, "reproducible_bytes": rb,
                      "share_of_platform_bytes": b / plat_total if plat_total else 0.0}
    repro_plat = sum(o["reproducible_bytes"] for o in by_os.values())
    return {
        "projects_run": len(run), "projects_listed": len(projects),
        "linux_bytes_run": total, "linux_bytes_listed": all_total,
        "share_by_project": repro_project / total if total else 0.0,
        "share_by_arch": repro_arch / total if total else 0.0,
        "share_of_listed_by_project": repro_project / all_total if all_total else 0.0,
        "grades": dict(grades),
        "platform_bytes_run": plat_total,
        "platform_bytes_listed": sum(platform_bytes(p) for p in projects),
        "targets_with_results": sorted(with_results),
        "share_of_platform_bytes_by_arch": repro_plat / plat_total if plat_total else 0.0,
        "by_os": by_os,
    }


def table(projects: list[dict[str, Any]], results: list[dict[str, Any]], targets: tuple[str, ...]) -> str:
    by = {(r["project"], r["target"]): r for r in results}
    lines = ["| project | platform GB | Linux GB | macOS GB | Windows GB | kind | "
             + " | ".join(f"{t} grade" for t in targets)
             + f" | verify s ({targets[0]}) | ÷ gcc | cause |",
             "|---|---|---|---|---|---|" + "---|" * len(targets) + "---|---|---|"]
    for p in projects:
        rs = [by.get((p["project"], t)) for t in targets]
        if not any(rs):
            continue
        first = next(r for r in rs if r)
        head = by.get((p["project"], targets[0])) or {}
        causes = "; ".join(sorted({(r.get("cause") or "")[:160] for r in rs if r and r.get("cause")}))
        gb = " | ".join(f"{sum(_os_bytes(p, o).values()) / 1e9:.1f}" for o in OSES)
        lines.append(f"| {p['project']} {p['latest_version']} | {platform_bytes(p) / 1e9:.1f} | {gb} | "
                     f"{first.get('build_kind') or ''} | " + " | ".join(r["grade"] if r else "–" for r in rs)
                     + f" | {head.get('verify_s', '')} | {head.get('zig_over_gcc', '')} | {causes.replace('|', '/')} |")
    return "\n".join(lines)


def plot(projects: list[dict[str, Any]], results: list[dict[str, Any]], targets: tuple[str, ...], path: Path) -> None:
    """One bar per project over all its platform-wheel bytes: a segment per target (the bytes it covers,
    coloured by grade), universal2 when both macOS targets were run (green when both are reproducible, else
    light grey-blue), then the rest in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"reproducible": "#2a9d3f", "repeatable": "#e9c46a", "broken": "#d62828", "inconclusive": "#8d99ae"}
    by = {(r["project"], r["target"]): r for r in results}
    run = [p for p in projects if all((p["project"], t) in by for t in targets)][:40]
    macos = {c[1]: t for t in targets if (c := covers(t)) and c[0] == "macos"}
    fig, ax = plt.subplots(figsize=(11, 0.28 * len(run) + 1.6))
    for i, p in enumerate(run):
        left = 0.0
        for t in targets:
            c = covers(t)
            b = _os_bytes(p, c[0]).get(c[1], 0) / 1e9 if c else 0.0
            ax.barh(i, b, left=left, color=colors.get(by[p["project"], t]["grade"], "#000"), edgecolor="white")
            left += b
        if {"x86_64", "arm64"} <= macos.keys():
            b = _os_bytes(p, "macos").get("universal2", 0) / 1e9
            both = all(by[p["project"], macos[a]]["grade"] == "reproducible" for a in ("x86_64", "arm64"))
            ax.barh(i, b, left=left, color=colors["reproducible"] if both else "#b8c0cc", edgecolor="white")
            left += b
        rest = platform_bytes(p) / 1e9 - left
        ax.barh(i, rest, left=left, color="#e0e0e0", edgecolor="white")
    ax.set_yticks(range(len(run)), [p["project"] for p in run], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("platform-wheel bytes on PyPI, all releases (GB): " + " | ".join(targets)
                  + (" | universal2" if {"x86_64", "arm64"} <= macos.keys() else "") + " | the rest (grey)")
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
