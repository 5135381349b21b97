"""Secondary caches against real servers on 127.0.0.1: a primary, a mirror, a liar, a dead and a slow one."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from casstore import CasstoreError, Store
from casstore.cli.main import main
from casstore.index.client import Expected, FetchFailed, fetch, trusted_digests
from casstore.index.mirror import sync_mirror
from casstore.index.server import make_app, running
from tests.test_server import make_wheel, wheel_name

WHEELS = [("Alpha", "1.0"), ("Alpha", "1.1"), ("Beta", "0.5")]


def _store(path: Path, *, lie: bool = False) -> Store:
    s = Store.directory(path)
    for name, version in WHEELS:
        data = make_wheel(name, version)
        if lie:  # same size, one byte changed: only the digest can tell
            data = data[:40] + bytes([data[40] ^ 0x55]) + data[41:]
        s.put(io.BytesIO(data), wheel_name(name, version))
    return s


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    s = _store(tmp_path / "primary")
    with running(make_app(s)) as url:
        yield s, url
    s.close()


@pytest.fixture
def liar(tmp_path: Path) -> Iterator[str]:
    """A casstore server holding the same filenames with other bytes (and honest-looking hashes for them)."""
    s = _store(tmp_path / "liar", lie=True)
    with running(make_app(s)) as url:
        yield url
    s.close()


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here any more


@pytest.fixture
def slow() -> Iterator[str]:
    async def hang(request: Request) -> Response:
        await asyncio.sleep(5)
        return Response("late")

    with running(Starlette(routes=[Route("/{path:path}", hang)])) as url:
        yield url


def test_sync_fetches_only_what_is_missing_and_is_incremental(primary: tuple[Store, str], tmp_path: Path) -> None:
    pstore, url = primary
    mirror = Store.directory(tmp_path / "mirror")
    first = sync_mirror(mirror, url, project="alpha")
    assert sorted(first.fetched) == [wheel_name("Alpha", "1.0"), wheel_name("Alpha", "1.1")]
    second = sync_mirror(mirror, url)
    assert second.fetched == [wheel_name("Beta", "0.5")] and second.present == 2
    third = sync_mirror(mirror, url)
    assert third.fetched == [] and third.present == 3 and not third.failed
    for f in pstore.ls():
        got = mirror.info(f.filename)
        assert got.blake3 == f.blake3 and got.origin == "mirrored"
        assert mirror.get(f.filename) == pstore.get(f.filename)
    pstore.put(io.BytesIO(make_wheel("Gamma", "2.0")), wheel_name("Gamma", "2.0"))
    assert sync_mirror(mirror, url).fetched == [wheel_name("Gamma", "2.0")]
    mirror.close()


def test_sync_refuses_bytes_that_differ_from_the_listing(primary: tuple[Store, str], liar: str,
                                                         tmp_path: Path) -> None:
    _, good = primary

    async def forward(base: str, scope: dict, receive: object, send: object) -> None:
        import httpx

        async with httpx.AsyncClient() as c:
            r = await c.get(base + scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else ""))
        await Response(r.content, r.status_code, media_type=r.headers.get("content-type"))(scope, receive, send)

    # listing (digests) from the honest primary, files from the liar
    tampered = Starlette(routes=[
        Mount("/api", app=lambda s, r, se: forward(good, s, r, se)),
        Mount("/files", app=lambda s, r, se: forward(liar, s, r, se)),
    ])
    mirror = Store.directory(tmp_path / "mirror")
    with running(tampered) as url:
        report = sync_mirror(mirror, url)
    assert report.fetched == [] and len(report.failed) == 3
    assert all("expected" in why for _, why in report.failed)
    assert mirror.ls() == []
    mirror.close()


def test_fetch_skips_dead_slow_and_lying_sources(primary: tuple[Store, str], liar: str, slow: str,
                                                 tmp_path: Path) -> None:
    pstore, url = primary
    mirror = Store.directory(tmp_path / "mirror")
    sync_mirror(mirror, url)
    with running(make_app(mirror)) as mirror_url:
        name = wheel_name("Alpha", "1.1")
        result = fetch(name, [_dead_url(), slow, liar, mirror_url], index=f"{url}/simple/",
                       dest=tmp_path / "out", timeout=1.0)
    assert result.source == mirror_url
    assert result.path.read_bytes() == pstore.get(name)
    reasons = dict(result.skipped)
    assert "unreachable" in reasons[next(iter(reasons))]
    assert "timed out" in reasons[slow]
    assert "sha256" in reasons[liar] and "expected" in reasons[liar]
    mirror.close()


def test_fetch_fails_with_every_reason_when_only_liars(primary: tuple[Store, str], liar: str,
                                                       tmp_path: Path) -> None:
    pstore, _ = primary
    name = wheel_name("Beta", "0.5")
    with pytest.raises(FetchFailed) as e:
        fetch(name, [liar, _dead_url()], store=pstore, dest=tmp_path / "out", timeout=2.0)
    assert len(e.value.reasons) == 2 and "sha256" in str(e.value)
    assert not (tmp_path / "out" / name).exists()  # nothing unverified is left behind


def test_trusted_digests_come_from_catalog_or_index(primary: tuple[Store, str]) -> None:
    pstore, url = primary
    name = wheel_name("Alpha", "1.0")
    info = pstore.info(name)
    assert trusted_digests(name, store=pstore) == Expected(name, info.sha256, info.blake3, info.size)
    assert trusted_digests(name, index=url) == Expected(name, info.sha256, info.blake3, info.size)
    with pytest.raises(CasstoreError, match="No trusted digest"):
        trusted_digests(name)


def test_cli_mirror_sync_and_fetch(primary: tuple[Store, str], liar: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    pstore, url = primary
    mstore = str(tmp_path / "m")
    assert main(["--store", mstore, "mirror", "sync", "--from", url, "--project", "beta", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fetched"] == [wheel_name("Beta", "0.5")]
    name = wheel_name("Alpha", "1.0")
    code = main(["--store", mstore, "fetch", name, "--source", liar, "--source", url, "--index", url,
                 "-o", str(tmp_path / "out"), "--into-store"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert f"skipped {liar}" in cap.err and "sha256" in cap.err
    assert (tmp_path / "out" / name).read_bytes() == pstore.get(name)
    code = main(["--store", mstore, "fetch", wheel_name("Alpha", "1.1"), "--source", liar, "--index", url])
    cap = capsys.readouterr()
    assert code == 1 and cap.err.startswith("casstore: error: Cannot fetch") and "Traceback" not in cap.err
    code = main(["--store", mstore, "mirror", "sync", "--from", _dead_url()])
    cap = capsys.readouterr()
    assert code == 1 and cap.err.count("\n") == 1 and "Cannot list the files" in cap.err
