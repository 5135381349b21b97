import io
import tarfile
from pathlib import Path

import pytest

from verifier import InvalidSdist
from verifier.build.sdist import build_requires, extract_sdist, sdist_epoch

from .sdists import MTIME, c_sdist


def test_extract_and_requirements(tmp_path: Path) -> None:
    src = extract_sdist(c_sdist(tmp_path), tmp_path / "out")
    assert src.name == "tinyc-0.1"
    assert build_requires(src) == ["setuptools>=40.8.0"]
    assert sdist_epoch(tmp_path / "tinyc-0.1.tar.gz") == MTIME


def test_member_escaping_the_destination_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil-1.0.tar.gz"
    with tarfile.open(evil, "w:gz") as tf:
        ti = tarfile.TarInfo("../../etc/owned")
        tf.addfile(ti, io.BytesIO(b""))
    with pytest.raises(InvalidSdist, match="escapes"):
        extract_sdist(evil, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_not_an_archive(tmp_path: Path) -> None:
    bad = tmp_path / "x-1.0.rar"
    bad.write_bytes(b"nope")
    with pytest.raises(InvalidSdist, match="x-1.0.rar"):
        extract_sdist(bad, tmp_path / "out")
