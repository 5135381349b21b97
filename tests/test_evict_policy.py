"""The pure eviction decisions: eligibility rules and policy planning."""

from __future__ import annotations

from typing import Any

from casstore.cache.policy import Candidate, Policy, eligibility, plan, ran_on_target

WHEEL = "blake3:" + "1" * 64
SDIST = "blake3:" + "2" * 64
DEP = "blake3:" + "3" * 64


def rec(grade: str, wheels: list[str | None], recipe_digest: str = "blake3:" + "r" * 64,
        deps: list[str] = [DEP]) -> dict[str, Any]:
    return {
        "recipe_digest": recipe_digest, "grade": grade,
        "recipe": {"sdist_filename": "demo-1.0.tar.gz", "sdist_blake3": SDIST, "zig_version": "0.17.1",
                   "build_deps": [{"filename": "setuptools-80-py3-none-any.whl", "blake3": d} for d in deps]},
        "builds": [{"wheel_blake3": w} for w in wheels],
    }


def everything(_: str) -> bool:
    return True


def ok_toolchain(_: Any) -> None:
    return None


def test_two_identical_reproducible_builds_make_a_wheel_evictable() -> None:
    e = eligibility("demo.whl", WHEEL, [rec("reproducible", [WHEEL, WHEEL])], present=everything,
                    toolchain=ok_toolchain)
    assert e.evictable and e.recipe_digest == "blake3:" + "r" * 64


def test_one_matching_build_is_not_enough() -> None:
    e = eligibility("demo.whl", WHEEL, [rec("reproducible", [WHEEL])], present=everything, toolchain=ok_toolchain)
    assert not e.evictable and "1 rebuild(s)" in e.reason


def test_rebuilds_of_other_bytes_do_not_count() -> None:
    other = "blake3:" + "9" * 64
    e = eligibility("demo.whl", WHEEL, [rec("reproducible", [other, other])], present=everything,
                    toolchain=ok_toolchain)
    assert not e.evictable and "0 rebuild(s)" in e.reason


def test_builds_across_two_records_of_one_recipe_count_together() -> None:
    e = eligibility("demo.whl", WHEEL, [rec("reproducible", [WHEEL]), rec("reproducible", [WHEEL])],
                    present=everything, toolchain=ok_toolchain)
    assert e.evictable


def test_latest_grade_decides() -> None:
    recs = [rec("reproducible", [WHEEL, WHEEL]), rec("repeatable", [WHEEL, None])]
    e = eligibility("demo.whl", WHEEL, recs, present=everything, toolchain=ok_toolchain)
    assert not e.evictable and "graded repeatable" in e.reason


def test_missing_sdist_or_dependency_or_toolchain_refuses_with_reason() -> None:
    r = [rec("reproducible", [WHEEL, WHEEL])]
    no_sdist = eligibility("d.whl", WHEEL, r, present=lambda d: d != SDIST, toolchain=ok_toolchain)
    assert not no_sdist.evictable and "sdist 'demo-1.0.tar.gz'" in no_sdist.reason
    no_dep = eligibility("d.whl", WHEEL, r, present=lambda d: d != DEP, toolchain=ok_toolchain)
    assert not no_dep.evictable and "setuptools-80-py3-none-any.whl" in no_dep.reason
    no_zig = eligibility("d.whl", WHEEL, r, present=everything, toolchain=lambda _: "zig 0.17.1 missing")
    assert not no_zig.evictable and no_zig.reason == "zig 0.17.1 missing"


def test_unrecoverable_and_unrecorded_wheels_are_never_evictable() -> None:
    r = [rec("reproducible", [WHEEL, WHEEL])]
    assert not eligibility("d.whl", WHEEL, r, present=everything, toolchain=ok_toolchain, unrecoverable=True).evictable
    assert eligibility("d.whl", WHEEL, [], present=everything, toolchain=ok_toolchain).reason == "no rebuild record"


def test_plan_orders_by_downloads_then_age_and_stops_at_budget() -> None:
    cands = [
        Candidate("hot.whl", "a", added=1.0, downloads=50, reclaimable=100),
        Candidate("old.whl", "a", added=1.0, downloads=0, reclaimable=100),
        Candidate("new.whl", "b", added=9.0, downloads=0, reclaimable=100),
    ]
    assert [c.filename for c in plan(cands, Policy(budget=150), stored_bytes=300)] == ["old.whl", "new.whl"]
    assert [c.filename for c in plan(cands, Policy(budget=250), stored_bytes=300)] == ["old.whl"]
    assert plan(cands, Policy(budget=400), stored_bytes=300) == []
    assert [c.filename for c in plan(cands, Policy(projects=frozenset({"b"})), 300)] == ["new.whl"]
    assert [c.filename for c in plan(cands, Policy(older_than=5.0, max_downloads=10), 300)] == ["old.whl"]


def test_on_target_needs_every_build_of_the_latest_record_imported_on_the_target() -> None:
    r = "blake3:" + "r" * 64
    ran = rec("reproducible", [WHEEL, WHEEL])
    for b in ran["builds"]:
        b["smoke"] = "ok"
    structural = rec("reproducible", [WHEEL, WHEEL])
    for b in structural["builds"]:
        b["smoke"] = "skipped: no runtime for aarch64-macos on this host: checked structurally only"
    assert ran_on_target([ran], r)
    assert not ran_on_target([structural], r)
    assert not ran_on_target([ran, structural], r)  # the latest record decides
    assert ran_on_target([structural, ran], r)
    assert not ran_on_target([ran], "blake3:" + "s" * 64)  # no record of that recipe
    assert not ran_on_target([rec("reproducible", [])], r)  # no build: nothing ran
