"""Synthetic verification records (schema casstore.verification/1) for report tests: no builds needed."""

from __future__ import annotations

import hashlib
from typing import Any

from verifier import RECORD_SCHEMA


def make_record(sdist: str, target: str = "x86_64-linux-gnu.2.17", grade: str = "reproducible", *,
                recipe: str | None = None, started: str = "2026-11-20T01:00:00+00:00", causes: list[str] | None = None,
                reasons: list[str] | None = None, wheel: str | None = None, logdir: str = "logs",
                diffoscope: bool = False, seconds: float = 12.5) -> dict[str, Any]:
    """One record; `recipe` defaults to a digest derived from sdist and target; `wheel` is the digest of
    the wheel both builds produced (the second build differs unless the grade is reproducible)."""
    digest = recipe or "blake3:" + (f"{sdist}{target}".encode().hex() * 4)[:64]
    w = wheel or "blake3:" + hashlib.sha256(f"wheel {sdist} {target}".encode()).hexdigest()
    builds = []
    for i, name in enumerate(("base", "varied")):
        ok = grade != "broken" or i == 0
        b3 = w if grade == "reproducible" or i == 0 else "blake3:" + "f" * 64
        builds.append({
            "variation": name, "ok": ok, "infra_failure": grade == "inconclusive", "failure": None if ok else "compile error",
            "wheel_filename": sdist.replace(".tar.gz", "-cp311-cp311-manylinux_2_17_x86_64.whl") if ok else None,
            "wheel_sha256": None, "wheel_blake3": b3 if ok else None, "ext_modules": [], "auditwheel_policy": None,
            "smoke": "ok" if ok else None, "log_blake3": None, "log_path": f"{logdir}/{sdist}-{target}-{name}.log",
            "seconds": seconds / 2, "sandbox": "bwrap",
        })
    explanation = None
    if grade == "repeatable":
        explanation = {"only_in_first": [], "only_in_second": [], "differing_members": ["pkg/_speed.so"],
                       "equal_after_normalization": False, "causes": causes or ["timestamps"],
                       "diffoscope_blake3": None, "diffoscope_path": f"{logdir}/{sdist}-{target}-diffoscope.txt"
                       if diffoscope else None, "note": None}
    if reasons is None:
        reasons = {"reproducible": ["2 builds, all " + w], "repeatable": ["2 different wheels from 2 builds"],
                   "broken": ["build 'varied' failed: compile error"],
                   "inconclusive": ["build 'base' could not run: timeout"]}[grade]
    return {
        "schema": RECORD_SCHEMA,
        "recipe": {"sdist_filename": sdist, "sdist_sha256": "0" * 64, "sdist_blake3": "blake3:" + "1" * 64,
                   "target": target, "python": "cpython-3.11.7", "python_tag": "cp311", "zig_version": "0.17.1",
                   "build_deps": [], "source_date_epoch": 1700000000, "cppflags": "", "ldflags": "", "umask": "022",
                   "pythonhashseed": "0", "frontend": "build --wheel --no-isolation"},
        "recipe_digest": digest, "grade": grade, "reasons": reasons, "builds": builds, "explanation": explanation,
        "published": "differs", "seconds": seconds, "started": started,
    }
