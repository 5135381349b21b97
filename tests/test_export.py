"""Static export: the files it writes, and real nginx serving them to pip."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from casstore import Store
from casstore.index.export import export_index, nginx_config
from casstore.index.pages import JSON_TYPE
from casstore.index.server import make_app
from tests.test_server import make_wheel, wheel_name
from tests.test_server_clients import check_installed, download_real, pip_install

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 for its test client; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.memory(clock=lambda: 1_700_000_000.0)
    for v in ("1.0", "2.0"):
        s.put(io.BytesIO(make_wheel("Demo-Pkg", v)), wheel_name("Demo_Pkg", v))
    s.put(io.BytesIO(b"\x1f\x8b" + b"\0" * 100), "other-0.1.tar.gz")
    yield s
    s.close()


def test_export_writes_the_servers_pages(store: Store, tmp_path: Path) -> None:
    report = export_index(store, tmp_path / "out")
    out = tmp_path / "out"
    assert report.projects == 2 and report.files_written == 3 and report.metadata_written == 2
    with TestClient(make_app(store)) as c:
        for path in ("simple/index", "simple/demo-pkg/index", "simple/other/index"):
            url = "/" + path.removesuffix("index")
            assert (out / f"{path}.html").read_text() == c.get(url, headers={"Accept": "text/html"}).text
            assert (out / f"{path}.json").read_text() == c.get(url, headers={"Accept": JSON_TYPE}).text
        name = wheel_name("Demo_Pkg", "2.0")
        assert (out / "files" / name).read_bytes() == store.get(name)
        assert (out / "files" / f"{name}.metadata").read_bytes() == c.get(f"/files/{name}.metadata").content
    listing = json.loads((out / "api" / "files.json").read_text())["files"]
    assert {f["filename"] for f in listing} == {f.filename for f in store.ls()}
    assert not (out / "files" / "other-0.1.tar.gz.metadata").exists()


def test_export_is_incremental_and_prunes(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_index(store, out)
    again = export_index(store, out)
    assert again.files_written == 0 and again.files_kept == 3 and again.metadata_written == 0
    store.rm("other-0.1.tar.gz")
    pruned = export_index(store, out)
    assert pruned.removed == ["files/other-0.1.tar.gz", "simple/other/"]
    assert json.loads((out / "simple" / "index.json").read_text())["projects"] == [{"name": "demo-pkg"}]


def test_export_with_external_files_url(store: Store, tmp_path: Path) -> None:
    report = export_index(store, tmp_path / "out", files_url="https://cache.example/wheels/")
    assert report.files_written == 0
    page = json.loads((tmp_path / "out" / "simple" / "demo-pkg" / "index.json").read_text())
    assert page["files"][0]["url"].startswith("https://cache.example/wheels/Demo_Pkg-1.0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Real nginx (Debian's package) on 127.0.0.1, serving ``<tmp>/export`` with casstore's config."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        pytest.skip("nginx is not installed (Debian package 'nginx-light' or 'nginx'); .ci/run installs it")
    root, prefix = tmp_path / "export", tmp_path / "nginx"
    root.mkdir()
    prefix.mkdir()
    port = _free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(root, f"127.0.0.1:{port}", prefix, user="root" if os.geteuid() == 0 else None))
    proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
                time.sleep(0.05)
        yield root, url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_nginx_serves_the_export_to_pip(nginx: tuple[Path, str], tmp_path: Path) -> None:
    root, url = nginx
    store = Store.directory(tmp_path / "store")
    for p in download_real():
        store.put(p)
    export_index(store, root)
    r = httpx.get(f"{url}/simple/six/", headers={"Accept": JSON_TYPE})
    assert r.headers["content-type"] == JSON_TYPE and r.json()["name"] == "six"
    r = httpx.get(f"{url}/simple/six/?format=json")
    assert r.headers["content-type"] == JSON_TYPE
    r = httpx.get(f"{url}/simple/six/")
    assert r.headers["content-type"].startswith("text/html") and "six-1.16.0" in r.text
    r = httpx.get(f"{url}/simple/six", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/simple/six/"
    assert httpx.get(f"{url}/api/files").json()["files"]
    py = pip_install(f"{url}/simple/", tmp_path, "markupsafe", "six")
    check_installed(py, tmp_path)
    log = (tmp_path / "nginx" / "access.log").read_text()
    assert ".whl.metadata HTTP/1.1\" 200" in log  # pip resolved from the PEP 658 metadata files
    from casstore import sync_mirror

    with Store.memory() as mirror:  # a static export is a primary for mirrors too
        report = sync_mirror(mirror, url)
        assert sorted(report.fetched) == sorted(f.filename for f in store.ls()) and not report.failed
    store.close()
