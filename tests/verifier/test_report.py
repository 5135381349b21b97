"""The report model, built from synthetic records (no builds), and its JSON/Markdown renderings."""

from __future__ import annotations

import pytest

from verifier import (
    Night,
    Report,
    VerifierError,
    build_report,
    report_from_json,
    report_to_html,
    report_to_json,
    report_to_markdown,
)

from .records import make_record

A, B = "x86_64-linux-gnu.2.17", "aarch64-linux-gnu.2.17"
FOO_RECIPE = "blake3:" + "a" * 64
WHEEL = "blake3:" + "c" * 64


def nights() -> list[Night]:
    n1 = Night("2026-11-18", [make_record("foo-1.0.tar.gz", A, recipe=FOO_RECIPE),
                              make_record("foo-1.0.tar.gz", B), make_record("bar-1.0.tar.gz", A)])
    n2 = Night("2026-11-19", [make_record("foo-1.0.tar.gz", A, recipe=FOO_RECIPE, wheel=WHEEL),
                              make_record("foo-1.0.tar.gz", B), make_record("bar-1.0.tar.gz", A),
                              make_record("baz-0.1.tar.gz", A, "broken")])
    n3 = Night("2026-11-20", [
        make_record("foo-1.0.tar.gz", A, "broken", recipe=FOO_RECIPE),   # the same recipe, now broken
        make_record("foo-1.0.tar.gz", B),
        make_record("bar-2.0.tar.gz", A, "repeatable", causes=["timestamps"], diffoscope=True),  # 1.0 was fine
        make_record("baz-0.1.tar.gz", A, "broken"),  # broken before too: no regression
        make_record("baz-0.1.tar.gz", A, "repeatable", causes=["timestamps", "embedded build paths"]),  # a retry
        make_record("qux-3.1.tar.gz", B, "inconclusive"),
        make_record("qux-3.1.tar.gz", A),
    ])
    return [n1, n2, n3]


def report() -> Report:
    return build_report(nights(), generated="2026-11-20T06:00:00+00:00",
                        wheels=[("foo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", WHEEL, 1000),
                                ("bar-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", "blake3:" + "d" * 64, 5000)],
                        present=lambda _d: True)


def test_totals_and_percentages_count_the_last_attempt_per_pair() -> None:
    r = report()
    assert r.night == "2026-11-20"
    assert r.totals.counts == {"reproducible": 2, "repeatable": 2, "broken": 1, "inconclusive": 1}
    assert r.totals.total == 6
    assert r.totals.percent("reproducible") == pytest.approx(100 * 2 / 6)
    assert {t.label: t.counts["reproducible"] for t in r.by_target} == {A: 1, B: 1}
    assert [p.label for p in r.by_project] == ["bar", "baz", "foo", "qux"]
    assert next(p for p in r.by_project if p.label == "foo").counts["broken"] == 1


def test_trend_has_one_point_per_night() -> None:
    r = report()
    assert [n.name for n in r.trend] == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert r.trend[0].counts["reproducible"] == 3
    assert r.trend[1].counts["broken"] == 1


def test_regressions_by_recipe_and_by_version() -> None:
    r = report()
    kinds = {(g.kind, g.project, g.target) for g in r.regressions}
    assert kinds == {("recipe", "foo", A), ("version", "bar", A)}
    recipe = next(g for g in r.regressions if g.kind == "recipe")
    assert recipe.before == "2026-11-19" and recipe.grade == "broken" and recipe.recipe_digest == FOO_RECIPE
    version = next(g for g in r.regressions if g.kind == "version")
    assert version.before == "bar-1.0.tar.gz" and version.now == "bar-2.0.tar.gz" and "timestamps" in version.why


def test_version_regression_from_store_history() -> None:
    n = Night("tonight", [make_record("zap-2.0.tar.gz", A, "broken")])
    r = build_report([n], generated="now", history=[make_record("zap-1.9.tar.gz", A)])
    assert [(g.kind, g.before) for g in r.regressions] == [("version", "zap-1.9.tar.gz")]
    # a newer reproducible version is not "previous"
    r = build_report([n], generated="now", history=[make_record("zap-2.1.tar.gz", A)])
    assert r.regressions == []


def test_top_causes_counted_once_per_pair_most_common_first() -> None:
    r = report()
    causes = {c.cause: c.count for c in r.causes}
    assert causes["timestamps"] == 2
    assert causes["embedded build paths"] == 1
    assert causes["failed: compile error"] == 1
    assert r.causes[0].cause == "timestamps"
    assert "bar-2.0.tar.gz [x86_64-linux-gnu.2.17]" in r.causes[0].examples


def test_rows_problems_first_with_links_to_logs_and_diffoscope() -> None:
    r = report()
    assert [w.grade for w in r.rows][:1] == ["broken"]
    assert r.rows[-1].grade == "reproducible"
    bar = next(w for w in r.rows if w.project == "bar")
    assert [link.path for link in bar.logs] == ["logs/bar-2.0.tar.gz-x86_64-linux-gnu.2.17-base.log",
                                                "logs/bar-2.0.tar.gz-x86_64-linux-gnu.2.17-varied.log"]
    assert bar.diffoscope is not None and bar.diffoscope.path.endswith("diffoscope.txt")


def test_reclaimable_counts_stored_wheels_eviction_accepts() -> None:
    r = report()
    # foo's wheel was built twice (both builds of a reproducible record) by a recipe whose *latest* record is
    # broken: eviction refuses it. Only a wheel whose recipe is still reproducible counts.
    assert r.reclaimable.files == 0
    n = Night("n", [make_record("foo-1.0.tar.gz", A, wheel=WHEEL)])
    wheels = [("foo.whl", WHEEL, 1000), ("other.whl", "blake3:" + "d" * 64, 5000)]
    ok = build_report([n], generated="now", wheels=wheels, present=lambda _d: True)
    assert (ok.reclaimable.files, ok.reclaimable.stored_bytes, ok.reclaimable.wheels) == (1, 1000, ["foo.whl"])
    # ...and not when the sdist is missing from the store
    assert build_report([n], generated="now", wheels=wheels, present=lambda _d: False).reclaimable.files == 0


def test_json_round_trip() -> None:
    r = report()
    assert report_from_json(report_to_json(r)) == r


def test_json_of_something_else_is_refused() -> None:
    with pytest.raises(VerifierError, match="not a report"):
        report_from_json('{"schema": "casstore.verification/1"}')


def test_markdown_has_totals_regressions_and_rows() -> None:
    md = report_to_markdown(report())
    assert "| reproducible | 2 | 33.3% |" in md
    assert "| version | bar | x86_64-linux-gnu.2.17 | bar-1.0.tar.gz | bar-2.0.tar.gz | repeatable |" in md
    assert "[diffoscope](logs/bar-2.0.tar.gz-x86_64-linux-gnu.2.17-diffoscope.txt)" in md
    assert "| 2026-11-18 | 3 | 0 | 0 | 0 |" in md


def test_no_nights_is_an_error() -> None:
    with pytest.raises(VerifierError):
        build_report([], generated="now")


def test_causes_from_failures_count_across_packages() -> None:
    recs = [make_record(f"{n}-1.0.tar.gz", B, "broken", reasons=[
        f"build 'first' failed: wheel '{n}-1.0-cp311-cp311-linux_x86_64.whl' has unexpected tags for {B}",
        f"build 'second' failed: see /tmp/{n}/build.log: exit 1"]) for n in ("foo", "bar")]
    r = build_report([Night("n", recs)], generated="now")
    assert {c.cause: c.count for c in r.causes} == {
        f"failed: wheel '…' has unexpected tags for {B}": 2, "failed: see …: exit 1": 2}


def test_the_checked_column_says_what_ran_on_the_target_and_what_was_structural() -> None:
    win = make_record("qux-1.0.tar.gz", "aarch64-windows")
    win["target_checks"] = ("not run on the target (no runtime for aarch64-windows on this host: checked "
                            "structurally only); structure against qux-1.0-cp311-cp311-win_arm64.whl: structure matches")
    old = make_record("foo-1.0.tar.gz", A)  # a record from before target_checks existed
    r = build_report([Night("2026-12-08", [win, old])], generated="2026-12-08T06:00:00+00:00", wheels=[],
                     present=lambda _d: True)
    checked = {row.sdist: row.checked for row in r.rows}
    assert checked == {"qux-1.0.tar.gz": win["target_checks"], "foo-1.0.tar.gz": ""}
    assert "| sdist | target | grade | published | seconds | why | checked | logs |" in report_to_markdown(r)
    assert f"<td class=why>{win['target_checks']}</td>" in report_to_html(r)
    assert report_from_json(report_to_json(r)).rows == r.rows  # the column survives the JSON round trip
