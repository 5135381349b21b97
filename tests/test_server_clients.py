"""Real clients against a real server: pip and uv install from ``casstore serve`` (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from casstore import Store
from casstore.index.server import make_app, running
from tests.conftest import CACHE

# A C-extension wheel and a pure one (plus an sdist, which the page lists and pip does not need).
INSTALLABLE = {
    "markupsafe==2.1.5": ("MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64", "markupsafe-2.1.5.tar.gz"),
    "six==1.16.0": ("six-1.16.0-py2.py3-none-any", "six-1.16.0.tar.gz"),
}


def download_real(wanted: dict[str, tuple[str, ...]] = INSTALLABLE) -> list[Path]:
    from casstore.index import pypi as _pypi

    paths = []
    for spec, prefixes in wanted.items():
        for f in _pypi.select(_pypi.list_files(spec.split("==")[0]), spec):
            if f.filename.lower().startswith(tuple(p.lower() for p in prefixes)):
                paths.append(_pypi.download(f, CACHE / "pypi"))
    assert len(paths) == sum(len(p) for p in wanted.values()), paths
    return paths


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the host's pip/uv settings (extra indexes, find-links, constraints),
    so an install can only come from the index under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", UV_NO_CONFIG="1", **extra)
    return env


def run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def pip_install(index: str, tmp: Path, *names: str) -> Path:
    """``pip install --index-url INDEX NAMES`` in a fresh venv; returns the venv's python."""
    venv = tmp / "venv-pip"
    run([sys.executable, "-m", "venv", str(venv)], tmp)
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", "--no-cache-dir", "--index-url", index, *names], tmp)
    return py


def uv_install(index: str, tmp: Path, *names: str) -> Path:
    uv = [sys.executable, "-m", "uv"]
    venv = tmp / "venv-uv"
    run([*uv, "venv", "--no-config", "--python", sys.executable, str(venv)], tmp)
    run([*uv, "pip", "install", "--no-config", "--no-cache", "--python", str(venv / "bin" / "python"),
         "--index-url", index, *names], tmp)
    return venv / "bin" / "python"


def check_installed(py: Path, tmp: Path) -> None:
    code = "import markupsafe, markupsafe._speedups, six; print(markupsafe.escape('<x>'), six.__version__)"
    out = run([str(py), "-c", code], tmp).stdout
    assert out.split() == ["&lt;x&gt;", "1.16.0"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    store = Store.directory(tmp_path_factory.mktemp("served") / "store")
    for p in download_real():
        store.put(p)
    app = make_app(store)
    with running(app) as url:
        yield url, app
    store.close()


@pytest.mark.slow
def test_pip_installs_from_the_server_using_metadata_files(served: tuple[str, object], tmp_path: Path) -> None:
    url, app = served
    before = app.state.requests.to_json()  # type: ignore[attr-defined]
    py = pip_install(f"{url}/simple/", tmp_path, "markupsafe", "six")
    check_installed(py, tmp_path)
    after = app.state.requests.to_json()  # type: ignore[attr-defined]
    whl = "MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    # pip resolved with the PEP 658 metadata files, then downloaded the wheels
    assert after["metadata"].get(whl, 0) > before["metadata"].get(whl, 0)
    assert after["metadata"].get("six-1.16.0-py2.py3-none-any.whl", 0) > 0
    assert after["files"].get(whl, 0) > before["files"].get(whl, 0)
    assert after["pages"]["markupsafe"] > 0


@pytest.mark.slow
def test_uv_installs_from_the_server(served: tuple[str, object], tmp_path: Path) -> None:
    url, app = served
    py = uv_install(f"{url}/simple/", tmp_path, "markupsafe", "six")
    check_installed(py, tmp_path)
    assert app.state.requests.to_json()["files"]  # type: ignore[attr-defined]


def test_cli_serve_and_export_index(tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    from casstore.cli.main import main
    from tests.test_server import make_wheel, wheel_name

    store_dir = tmp_path / "store"
    with Store.directory(store_dir) as s:
        import io

        s.put(io.BytesIO(make_wheel("Demo-Pkg", "1.0")), wheel_name("Demo_Pkg", "1.0"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "casstore.cli", "--store", str(store_dir), "serve",
                             "--port", str(port), "--no-access-log"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/simple/demo-pkg/?format=json")
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert r.json()["files"][0]["filename"] == wheel_name("Demo_Pkg", "1.0")
    finally:
        proc.terminate()
        proc.wait(10)
    out, conf = tmp_path / "www", tmp_path / "casstore.conf"
    assert main(["--store", str(store_dir), "export-index", str(out), "--nginx-conf", str(conf), "--json"]) == 0
    assert (out / "files" / f"{wheel_name('Demo_Pkg', '1.0')}.metadata").is_file()
    assert f"root {out.resolve()};" in conf.read_text()
    assert main(["--store", str(tmp_path / "nostore"), "serve"]) == 1  # one-line error, no traceback
