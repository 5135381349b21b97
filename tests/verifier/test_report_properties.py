"""Property tests: any set of nights gives a report whose JSON reads back to the same model, whose totals
add up, and whose HTML and Markdown render."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import (
    GRADES,
    Night,
    build_report,
    report_from_json,
    report_to_html,
    report_to_json,
    report_to_markdown,
)

from .records import make_record

names = st.sampled_from(["foo", "bar", "baz-qux", "Odd_Name", "x.y"])
versions = st.sampled_from(["1.0", "1.1", "2.0rc1", "10.2.3"])
records = st.builds(
    lambda n, v, t, g, c: make_record(f"{n}-{v}.tar.gz", t, g, causes=c),
    names, versions, st.sampled_from(["x86_64-linux-gnu.2.17", "aarch64-linux-musl"]), st.sampled_from(GRADES),
    st.lists(st.text("abcdefghij <>&|\"'", min_size=1, max_size=12), min_size=1, max_size=3),
)
nights = st.lists(st.lists(records, max_size=8), min_size=1, max_size=4)


@settings(max_examples=25, deadline=None)
@given(nights)
def test_any_nights_round_trip_and_add_up(recs: list[list[dict]]) -> None:
    report = build_report([Night(f"n{i}", r) for i, r in enumerate(recs)], generated="now")
    assert report_from_json(report_to_json(report)) == report
    assert report.totals.total == len(report.rows) == len({(r["recipe"]["sdist_filename"], r["recipe"]["target"])
                                                           for r in recs[-1]})
    assert sum(t.total for t in report.by_target) == sum(p.total for p in report.by_project) == report.totals.total
    assert len(report.trend) == len(recs)
    page, md = report_to_html(report), report_to_markdown(report)
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and md.startswith("# ")
    for row in report.rows:
        assert row.sdist in md
