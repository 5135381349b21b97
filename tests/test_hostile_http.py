"""The index server under hostile requests, over real sockets (uvicorn on 127.0.0.1): traversal in
every route, malformed and oversized requests, 200 concurrent clients. Never a 5xx for a client's
error, never a byte from outside the store, and the server still answers afterwards."""

from __future__ import annotations

import asyncio
import io
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casstore import Store
from casstore.index.pages import choose_format
from casstore.index.server import MAX_HEAD, make_app, parse_range, running

from .conftest import make_sdist, make_wheel

WHEEL, WHEEL_DATA = make_wheel("demo", "1.0", files={"demo/__init__.py": b"VALUE = 1\n" * 100})
SDIST, SDIST_DATA = make_sdist("demo", "1.0")
SECRETS = (b"SQLite format", b"root:x:0", b'{"format"', b"TOP-SECRET")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("hostile-http")
    store = Store.directory(root / "store")
    store.put(io.BytesIO(WHEEL_DATA), WHEEL)
    store.put(io.BytesIO(SDIST_DATA), SDIST)
    (root / "PRIVATE.whl").write_bytes(b"TOP-SECRET next to the store")
    with running(make_app(store, count_requests=False)) as base:
        yield base, root
    store.close()


def raw(base: str, request: bytes) -> tuple[int, bytes, bytes]:
    """Send bytes as they are (an HTTP client would normalize the path); (status, head, body)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, head, body


def get(base: str, target: str, *headers: str) -> tuple[int, bytes, bytes]:
    extra = "".join(f"{h}\r\n" for h in headers)
    return raw(base, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n".encode("latin-1"))


def _assert_alive(base: str) -> None:
    status, _, body = get(base, "/simple/demo/")
    assert status == 200 and WHEEL.encode() in body


# -- traversal in every route -------------------------------------------------------------------------

TRAVERSALS = [
    "/simple/../catalog.sqlite", "/simple/%2e%2e/", "/simple/%2e%2e%2fcatalog.sqlite/", "/simple/..%2f..%2fetc/",
    "/simple/demo%2f..%2f..%2f/", "/simple/%00/", "/simple/%ff/",
    "/files/../catalog.sqlite", "/files/..%2fcatalog.sqlite", "/files/%2e%2e%2fcasstore.json",
    "/files/..%2f..%2fPRIVATE.whl", "/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/files//etc/passwd",
    "/files/%2Fetc%2Fpasswd", "/files/..%5c..%5cPRIVATE.whl", "/files/C:%5cWindows%5cwin.ini",
    "/files/%00", f"/files/{SDIST}%00.whl", f"/files/{WHEEL}/../../catalog.sqlite",
    f"/files/..%2f{WHEEL}.metadata", "/files/..%2f..%2fcatalog.sqlite.metadata",
    "/api/files?project=../..", "/api/files?project=%00", "/api/files/../../catalog.sqlite",
    "//etc/passwd", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
    "http://evil.example/etc/passwd", "*",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_serves_nothing_from_outside(server: tuple[str, Path], target: str) -> None:
    base, _ = server
    status, head, body = get(base, target)
    assert status in (301, 400, 404, 405), (status, head)
    assert not any(s in body for s in SECRETS)
    if status == 301:
        location = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"location:"))
        assert b".." not in location and b"%2e" not in location.lower()


def test_file_routes_serve_exactly_the_stored_files(server: tuple[str, Path]) -> None:
    base, _ = server
    assert get(base, f"/files/{WHEEL}")[2] == WHEEL_DATA
    assert get(base, f"/files/{SDIST}")[2] == SDIST_DATA


# -- malformed and oversized requests -----------------------------------------------------------------

MALFORMED = {
    "no_version": b"GET\r\n\r\n",
    "binary": b"\x00\x01\x02\xff\xfe\r\n\r\n",
    "http_9_9": b"GET / HTTP/9.9\r\n\r\n",
    "bad_method": b"BR(EW /simple/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "negative_length": b"GET /simple/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "bad_chunked": b"POST /simple/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "smuggling": b"GET /simple/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "header_without_colon": b"GET /simple/ HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n",
    "nul_in_header": b"GET /simple/ HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_requests_get_a_4xx(server: tuple[str, Path], case: str) -> None:
    base, _ = server
    status, _, body = raw(base, MALFORMED[case])
    assert 400 <= status < 500 or status == 0 and body == b"", (case, status)
    _assert_alive(base)


@pytest.mark.parametrize("case", ["one_big_header", "many_headers", "long_url", "huge_header"])
def test_oversized_heads_get_431_or_400_and_memory_is_not_spent(server: tuple[str, Path], case: str) -> None:
    base, _ = server
    n = MAX_HEAD + 1024
    request = {
        "one_big_header": f"GET /simple/ HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * n}\r\n\r\n".encode(),
        "many_headers": b"GET /simple/ HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(n // 8))
        + b"\r\n",
        "long_url": f"GET /simple/{'a' * n}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        "huge_header": b"GET /simple/ HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"a" * (32 << 20) + b"\r\n\r\n",
    }[case]
    status, _, _ = raw(base, request)
    assert status in (0, 400, 414, 431), status
    _assert_alive(base)


@pytest.mark.parametrize("rng", [
    "bytes=abc", "bytes=5-1", "bytes=-0", "bytes=99999999999999999999999999-", "bytes=0-0,1-1", "bytes=--1",
    "bytes=" + "1" * 5000 + "-", "bytes=-" + "9" * 40, "items=0-1", "bytes=", "bytes=-", "=", "bytes=1-2-3",
    "bytes=\u00e9-1",
])
def test_bad_range_headers_never_fail_the_server(server: tuple[str, Path], rng: str) -> None:
    base, _ = server
    status, _, body = get(base, f"/files/{WHEEL}", f"Range: {rng}")
    assert status in (200, 206, 416), status
    if status == 200:
        assert body == WHEEL_DATA
    if status == 206:
        assert body and WHEEL_DATA.find(body) >= 0


@pytest.mark.parametrize("accept", [
    "garbage", "application/vnd.pypi.simple.v1+json;q=abc", "*/*;q=-1", "*/*;q=nan", "*/*;q=1e999", ";;;,,,",
    "text/html;q=0.5, " * 2000, "\u00ff\u00fe", "application/vnd.pypi.simple.v1+json;q=0",
])
def test_bad_accept_headers_get_a_page_or_406(server: tuple[str, Path], accept: str) -> None:
    base, _ = server
    for target in ("/simple/", "/simple/demo/"):
        status, _, _ = get(base, target, f"Accept: {accept}")
        assert status in (200, 406, 431), (target, status)


@pytest.mark.parametrize("header", ["If-None-Match: " + ",".join(["x"] * 5000), "If-None-Match: W/",
                                    "If-Range: zzz\r\nRange: bytes=0-1", "Host: " + "h" * 1000])
def test_odd_conditional_headers(server: tuple[str, Path], header: str) -> None:
    base, _ = server
    status, _, _ = get(base, f"/files/{WHEEL}", header)
    assert status in (200, 206, 304, 400), status


@pytest.mark.parametrize("query", ["since=nan", "since=inf", "since=1e999", "since=-1e999", "since=abc",
                                   "project=%ff", "project=" + "a" * 5000, "since=" + "9" * 5000])
def test_api_query_strings(server: tuple[str, Path], query: str) -> None:
    base, _ = server
    status, _, _ = get(base, f"/api/files?{query}")
    assert status in (200, 400), status


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_other_methods_on_files(server: tuple[str, Path], method: str) -> None:
    base, _ = server
    status, _, _ = raw(base, f"{method} /files/{WHEEL} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n".encode())
    assert status == 405
    assert Store  # the store is unchanged: next test reads the same bytes
    assert get(base, f"/files/{WHEEL}")[2] == WHEEL_DATA


def test_half_open_and_abandoned_connections(server: tuple[str, Path]) -> None:
    """Clients that send half a request and vanish, or read nothing of a download, do not wedge it."""
    base, _ = server
    host, port = base.removeprefix("http://").rsplit(":", 1)
    socks = []
    for i in range(50):
        s = socket.create_connection((host, int(port)))
        s.sendall(b"GET /simple/ HTTP/1.1\r\nHost: x\r\n" if i % 2 else
                  f"GET /files/{WHEEL} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    for s in socks:
        s.close()
    _assert_alive(base)


# -- many clients at once -----------------------------------------------------------------------------

def test_200_concurrent_clients(server: tuple[str, Path]) -> None:
    """200 connections at once, each asking for pages, files, metadata, ranges and a traversal:
    every answer is the expected one, no 5xx, no connection error; the server answers afterwards."""
    base, _ = server
    expected = {
        "/simple/": (200, None), "/simple/demo/": (200, None), f"/files/{WHEEL}": (200, WHEEL_DATA),
        f"/files/{SDIST}": (200, SDIST_DATA), f"/files/{WHEEL}.metadata": (200, None),
        "/files/..%2fcatalog.sqlite": (404, None), "/simple/Demo/": (301, None),
    }

    async def client(c: httpx.AsyncClient, i: int) -> list[str]:
        errors = []
        for target, (status, body) in expected.items():
            r = await c.get(target, headers={"Range": "bytes=0-9"} if i % 7 == 0 and body else {})
            want = 206 if i % 7 == 0 and body else status
            if r.status_code != want or (body is not None and r.content != (body[:10] if want == 206 else body)):
                errors.append(f"{target}: {r.status_code}")
        return errors

    async def main() -> tuple[Counter[str], int]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120, follow_redirects=False) as c:
            results = await asyncio.gather(*(client(c, i) for i in range(200)), return_exceptions=True)
        errors: Counter[str] = Counter()
        for r in results:
            if isinstance(r, BaseException):
                errors[type(r).__name__] += 1
            else:
                errors.update(r)
        return errors, len(results) * len(expected)

    errors, total = asyncio.run(main())
    assert total == 1400
    assert not errors, errors
    _assert_alive(base)


# -- the pure parsers behind the headers --------------------------------------------------------------

@given(header=st.text(max_size=200), size=st.integers(0, 10**12))
@settings(max_examples=500)
def test_parse_range_is_total(header: str, size: int) -> None:
    got = parse_range(header, size)
    assert got is None or got == "unsatisfiable" or (
        isinstance(got, tuple) and 0 <= got[0] < got[1] <= size)


@given(accept=st.none() | st.text(max_size=300), fmt=st.none() | st.text(max_size=20))
@settings(max_examples=500)
def test_choose_format_is_total(accept: str | None, fmt: str | None) -> None:
    assert choose_format(accept, fmt) in (None, "json", "html", "text/html")
