"""Pure packages: the latest release's sdist rebuilt (two builds under the default variations, sandboxed) and
its wheel compared with the pure wheel PyPI published for that release.

    python benchmarks/pure_bench.py [PROJECT ...]

Per project: grade, seconds, and the comparison with the published wheel (identical / equal after
normalization — zip timestamps and order, RECORD order — / differs, with the differing members and their
causes from verifier.grading.diff). Results go to benchmarks/results/pure.json and a Markdown table.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from casstore.index import pypi
from verifier import VARIATIONS, BuildSetup, compare_wheels, verify

CACHE = REPO / ".cache" / "pure"
RESULTS = REPO / "benchmarks" / "results" / "pure.json"
# Small, widely used pure projects (each publishes one py3-none-any or py2.py3-none-any wheel per release).
PROJECTS = ["python-dateutil", "six", "idna", "certifi", "packaging", "urllib3", "requests", "attrs", "pluggy",
            "iniconfig", "tomli", "typing-extensions", "pyparsing", "click"]


def latest(project: str) -> tuple[pypi.RemoteFile, pypi.RemoteFile | None]:
    files = pypi.list_files(project)
    sdists = [f for f in files if f.kind == "sdist" and not f.yanked and not f.version.is_prerelease]
    sd = max(sdists, key=lambda f: f.version)
    wheels = [f for f in files if f.kind == "wheel" and f.version == sd.version and f.filename.endswith("-none-any.whl")]
    return sd, (wheels[0] if wheels else None)


def run_one(project: str) -> dict[str, Any]:
    sd, whl = latest(project)
    sdist = pypi.download(sd, CACHE / "sdists")
    published = pypi.download(whl, CACHE / "published") if whl else None
    work = CACHE / "work" / project
    setup = BuildSetup(wheelhouse=REPO / ".cache" / "wheelhouse", zig_cache=REPO / ".cache" / "zig")
    t0 = time.monotonic()
    (rec,) = verify(sdist, workdir=work, setup=setup, variations=VARIATIONS, diffoscope=False,
                    published={"x86_64-linux-gnu.2.17": published} if published else None)
    out: dict[str, Any] = {"project": project, "sdist": sdist.name, "published_wheel": published.name if published else None,
                           "grade": rec.grade, "pure": rec.recipe.pure, "build_kind": rec.build_kind,
                           "published": rec.published, "verify_s": round(time.monotonic() - t0, 1),
                           "build_s": [b.seconds for b in rec.builds], "reasons": rec.reasons}
    built = next((p for b in rec.builds if b.wheel_filename for p in sorted(work.rglob(b.wheel_filename))), None)
    if published and built and rec.published != "identical":
        exp = compare_wheels(built, published, classify=True)
        out["differing_members"] = exp.differing_members[:12]
        out["only_in_rebuilt"], out["only_in_published"] = exp.only_in_first[:12], exp.only_in_second[:12]
        out["causes"] = exp.causes
    return out


def main(argv: list[str]) -> int:
    projects = argv or PROJECTS
    rows = []
    for p in projects:
        try:
            row = run_one(p)
        except Exception as e:  # noqa: BLE001 -- one project's failure must not end the run
            row = {"project": p, "grade": "error", "reasons": [f"{type(e).__name__}: {e}"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| sdist | grade | verify s | vs published wheel | what differs (causes) |", "|---|---|---|---|---|"]
    for r in rows:
        what = "; ".join(r.get("causes") or []) + (f" — {', '.join(r.get('differing_members') or [])}"
                                                    if r.get("differing_members") else "")
        lines.append(f"| {r.get('sdist', r['project'])} | {r['grade']} | {r.get('verify_s', '')} | "
                     f"{r.get('published', '')} | {what.replace('|', '/')} |")
    md = "\n".join(lines)
    RESULTS.with_suffix(".md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
