"""Shared fixtures: stores of every kind, small generated distributions, real files from PyPI."""

from __future__ import annotations

import io
import os
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from casstore import Store

from ._postgres import postgres_server, postgres_store

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CASSTORE_TEST_CACHE", ROOT / ".cache" / "tests"))


@pytest.fixture(params=["disk", "memory", "s3", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The contract: every test using this runs against the disk, memory and S3 stores, and blobs on disk
    with the catalog on PostgreSQL."""
    if request.param == "disk":
        s = Store.directory(tmp_path / "store")
    elif request.param == "memory":
        s = Store.memory()
    elif request.param == "postgres":  # blobs on disk, the catalog on PostgreSQL (a fresh schema)
        s = postgres_store(tmp_path / "store", request.getfixturevalue("postgres_url"))
    else:  # blobs on S3 under a fresh prefix, the catalog in SQLite
        from casstore.catalog.sqlite import Catalog
        from casstore.objects.s3 import S3Objects

        s = Store(S3Objects.from_url(fresh_s3_prefix(request.getfixturevalue("s3_url"))),
                  Catalog.open(tmp_path / "catalog.sqlite"))
    yield s
    s.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server: $CASSTORE_TEST_PG when set, else one started by .ci/services/postgres."""
    yield from postgres_server()


@pytest.fixture(scope="session")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An S3 store URL with credentials: $CASSTORE_TEST_S3 when set, else a radosgw started here by
    .ci/services/radosgw (and stopped at the end). No radosgw means failed tests, never skipped ones."""
    if os.environ.get("CASSTORE_TEST_S3"):
        yield os.environ["CASSTORE_TEST_S3"]
        return
    state = tmp_path_factory.mktemp("radosgw")
    script = ROOT / ".ci" / "services" / "radosgw"
    run = subprocess.run([str(script), "start", str(state)], check=False, capture_output=True, text=True,
                         timeout=300)
    try:
        if run.returncode != 0:
            pytest.fail(f"{script.name} start failed: {run.stderr.strip()}", pytrace=False)
        url, *env = run.stdout.splitlines()
        creds = dict(line.split("=", 1) for line in env if "=" in line)
        yield url + "&" + urlencode({"access_key_id": creds["AWS_ACCESS_KEY_ID"],
                                     "secret_access_key": creds["AWS_SECRET_ACCESS_KEY"]})
    finally:
        subprocess.run([str(script), "stop", str(state)], check=False, capture_output=True, timeout=120)


def fresh_s3_prefix(url: str) -> str:
    """``url`` with a new, unused prefix below its own: each test sees an empty store."""
    parts = urlsplit(url)
    return parts._replace(path=f"{parts.path.rstrip('/')}/{uuid.uuid4().hex[:12]}").geturl()


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
    from casstore.index import pypi as _pypi

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
