"""Real sdists and wheels from PyPI: stored, read back bit-exactly, verified, listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from casstore import Store, fsck


@pytest.mark.slow
def test_real_distributions_round_trip(disk_store: Store, real_files: list[Path]) -> None:
    for p in real_files:
        disk_store.put(p)
    for p in real_files:
        assert disk_store.get(p.name) == p.read_bytes()
    kinds = {f.kind for f in disk_store.ls()}
    assert kinds == {"sdist", "wheel"}
    sd = [f for f in disk_store.ls(project="MarkupSafe", kind="sdist")][0]
    assert sd.project == "markupsafe" and sd.version == "2.1.5"
    win = [f for f in disk_store.ls(project="msgpack", kind="wheel") if "win_amd64" in f.filename]
    assert win and win[0].tags == ("cp311-cp311-win_amd64",)
    s = disk_store.stats()
    assert s.files == len(real_files)
    assert s.raw_bytes == sum(p.stat().st_size for p in real_files)
    assert fsck(disk_store).ok
