"""Rebuild records and download counts kept in the catalog, in both stores."""

from __future__ import annotations

import pytest

from casstore import InvalidRecord, Store


def _record(grade: str, started: str) -> dict[str, object]:
    return {
        "schema": "casstore.verification/1",
        "recipe": {"sdist_filename": "demo-1.0.tar.gz", "sdist_blake3": "blake3:" + "a" * 64,
                   "target": "x86_64-linux-gnu.2.17"},
        "recipe_digest": "blake3:" + "b" * 64,
        "grade": grade,
        "builds": [{"wheel_blake3": None}, {"wheel_blake3": "blake3:" + "c" * 64}],
        "started": started,
        "seconds": 12.5,
    }


def test_records_round_trip_and_filter(store: Store) -> None:
    store.record_rebuild(_record("repeatable", "2026-11-24T00:00:00+00:00"))
    store.record_rebuild(_record("reproducible", "2026-11-25T00:00:00+00:00"))
    got = store.rebuild_records(sdist="demo-1.0.tar.gz")
    assert [r["grade"] for r in got] == ["repeatable", "reproducible"]
    assert got[1] == _record("reproducible", "2026-11-25T00:00:00+00:00")
    assert store.rebuild_records(target="aarch64-linux-gnu.2.17") == []
    row = store.catalog.rebuilds(recipe_digest="blake3:" + "b" * 64)[0]
    assert row["wheel_blake3"] == "blake3:" + "c" * 64
    # the JSON blob is pinned: gc keeps it
    store.gc(grace=-1)
    assert len(store.rebuild_records()) == 2


def test_malformed_record_is_refused_and_nothing_written(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="recipe"):
        store.record_rebuild({"grade": "reproducible"})
    assert store.rebuild_records() == []
    assert list(store.objects.keys()) == []


def test_download_counts_accumulate(store: Store) -> None:
    store.count_downloads({"a-1.0.tar.gz": 2, "b-1.0.tar.gz": 1}, when=1.0)
    store.count_downloads({"a-1.0.tar.gz": 3}, when=2.0)
    assert store.downloads() == {"a-1.0.tar.gz": 5, "b-1.0.tar.gz": 1}
