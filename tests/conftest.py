"""Shared fixtures: stores of every kind, small generated distributions, real files from PyPI."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from casstore import Store

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CASSTORE_TEST_CACHE", ROOT / ".cache" / "tests"))


@pytest.fixture(params=["disk", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The contract: every test using this runs against the disk store and the memory store."""
    s = Store.directory(tmp_path / "store") if request.param == "disk" else Store.memory()
    yield s
    s.close()


@pytest.fixture
def disk_store(tmp_path: Path) -> Store:
    s = Store.directory(tmp_path / "store")
    yield s
    s.close()


def make_wheel(name: str = "demo", version: str = "1.0", files: dict[str, bytes] | None = None,
               tag: str = "py3-none-any") -> tuple[str, bytes]:
    files = files or {f"{name}/__init__.py": b"VALUE = 1\n"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        members = dict(files)
        members[f"{name}-{version}.dist-info/METADATA"] = (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode())
        members[f"{name}-{version}.dist-info/WHEEL"] = f"Wheel-Version: 1.0\nTag: {tag}\n".encode()
        for path, data in members.items():  # fixed timestamps: the same call gives the same bytes
            z.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return f"{name}-{version}-{tag}.whl", buf.getvalue()


def make_sdist(name: str = "demo", version: str = "1.0", payload: bytes = b"print('hi')\n") -> tuple[str, bytes]:
    import gzip
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        info = tarfile.TarInfo(f"{name}-{version}/setup.py")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    return f"{name}-{version}.tar.gz", gzip.compress(raw.getvalue(), mtime=0)


@pytest.fixture(scope="session")
def real_files() -> list[Path]:
    """Real sdists and wheels from PyPI (one msgpack and one markupsafe release, a few platform
    wheels each), downloaded once and cached in .cache/tests."""
    from casstore import _pypi

    wanted = {
        "markupsafe==2.1.5": ("markupsafe-2.1.5.tar.gz", "MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64",
                              "MarkupSafe-2.1.5-cp311-cp311-musllinux_1_1_x86_64", "MarkupSafe-2.1.5-cp312"),
        "msgpack==1.0.8": ("msgpack-1.0.8.tar.gz", "msgpack-1.0.8-cp311-cp311-manylinux_2_17_x86_64",
                           "msgpack-1.0.8-cp311-cp311-win_amd64"),
    }
    paths = []
    for spec, prefixes in wanted.items():
        files = _pypi.select(_pypi.list_files(spec.split("==")[0]), spec)
        for f in files:
            if f.filename.lower().startswith(tuple(p.lower() for p in prefixes)):
                paths.append(_pypi.download(f, CACHE / "pypi"))
    assert len(paths) >= 6, paths
    return paths
