"""The simple-index server in process (Starlette's test client): pages, negotiation, files, ranges."""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile

import pytest

from casstore import Store
from casstore.index.pages import JSON_TYPE, choose_format
from casstore.index.server import make_app, parse_range

with warnings.catch_warnings():  # starlette 1.x asks for httpx2 for its test client; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


def make_wheel(name: str, version: str, requires_python: str | None = ">=3.8", extra: bytes = b"") -> bytes:
    buf = io.BytesIO()
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        meta += f"Requires-Python: {requires_python}\n"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        mod = name.replace("-", "_").lower()
        zf.writestr(f"{mod}/__init__.py", b"VALUE = 1\n" + extra)
        zf.writestr(f"{mod}-{version}.dist-info/METADATA", meta)
        zf.writestr(f"{mod}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{mod}-{version}.dist-info/RECORD", "")
    return buf.getvalue()


def wheel_name(name: str, version: str) -> str:
    return f"{name.replace('-', '_')}-{version}-py3-none-any.whl"


@pytest.fixture
def store() -> Store:
    s = Store.memory(clock=lambda: 1_700_000_000.0)
    for v in ("1.0", "1.10", "1.2"):
        s.put(io.BytesIO(make_wheel("Demo-Pkg", v)), wheel_name("Demo_Pkg", v))
    s.put(io.BytesIO(b"\x1f\x8b" + b"\0" * 100), "demo_pkg-1.0.tar.gz")
    return s


@pytest.fixture
def client(store: Store) -> TestClient:
    with TestClient(make_app(store)) as c:
        yield c


def test_index_negotiates_html_and_json(client: TestClient) -> None:
    r = client.get("/simple/", headers={"Accept": PIP_ACCEPT})
    assert r.headers["content-type"] == JSON_TYPE
    assert r.json() == {"meta": {"api-version": "1.1"}, "projects": [{"name": "demo-pkg"}]}
    r = client.get("/simple/", headers={"Accept": "text/html"})
    assert r.headers["content-type"].startswith("text/html")
    assert '<a href="demo-pkg/">demo-pkg</a>' in r.text
    assert client.get("/simple/?format=json").headers["content-type"] == JSON_TYPE
    assert client.get("/simple/", headers={"Accept": "image/png"}).status_code == 406


def test_project_page_json_has_pep_691_700_658_fields(client: TestClient, store: Store) -> None:
    r = client.get("/simple/demo-pkg/", headers={"Accept": JSON_TYPE})
    assert r.status_code == 200
    doc = r.json()
    assert doc["name"] == "demo-pkg"
    assert doc["versions"] == ["1.0", "1.2", "1.10"]
    by_name = {f["filename"]: f for f in doc["files"]}
    whl = by_name[wheel_name("Demo_Pkg", "1.0")]
    info = store.info(whl["filename"])
    assert whl["hashes"] == {"sha256": info.sha256, "blake3": info.blake3.hex}
    assert whl["size"] == info.size
    assert whl["upload-time"] == "2023-11-14T22:13:20.000000Z"
    assert whl["url"] == f"../../files/{whl['filename']}"
    meta = client.get(f"/files/{whl['filename']}.metadata")
    assert meta.status_code == 200
    assert whl["core-metadata"] == {"sha256": hashlib.sha256(meta.content).hexdigest()}
    assert whl["dist-info-metadata"] == whl["core-metadata"]
    assert whl["requires-python"] == ">=3.8"
    assert b"Name: Demo-Pkg" in meta.content
    sdist = by_name["demo_pkg-1.0.tar.gz"]
    assert sdist["core-metadata"] is False


def test_project_page_html(client: TestClient, store: Store) -> None:
    r = client.get("/simple/demo-pkg/")
    assert r.status_code == 200
    info = store.info(wheel_name("Demo_Pkg", "1.2"))
    assert f'href="../../files/{info.filename}#sha256={info.sha256}"' in r.text
    assert 'data-core-metadata="sha256=' in r.text and 'data-requires-python="&gt;=3.8"' in r.text
    assert '<meta name="pypi:repository-version" content="1.1">' in r.text


def test_metadata_is_pinned_and_survives_a_new_app(store: Store) -> None:
    with TestClient(make_app(store)) as c:
        c.get("/simple/demo-pkg/")
    assert store.catalog.blobs_of(f"metadata:{wheel_name('Demo_Pkg', '1.0')}")
    assert store.gc(grace=0).removed == []  # pinned: gc keeps it


def test_non_normalized_names_redirect(client: TestClient) -> None:
    r = client.get("/simple/Demo_Pkg/", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/simple/demo-pkg/"
    r = client.get("/simple/demo-pkg?format=json", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/simple/demo-pkg/?format=json"
    assert client.get("/simple/Demo.Pkg/", headers={"Accept": JSON_TYPE}).json()["name"] == "demo-pkg"


def test_unknown_project_404_in_the_asked_format(client: TestClient) -> None:
    r = client.get("/simple/nope/", headers={"Accept": JSON_TYPE})
    assert r.status_code == 404 and r.headers["content-type"] == JSON_TYPE
    assert "nope" in r.json()["error"]
    r = client.get("/simple/nope/")
    assert r.status_code == 404 and "<h1>Not found" in r.text


@pytest.mark.parametrize("path", [
    "/files/..%2F..%2Fetc%2Fpasswd", "/files/../catalog.sqlite", "/files/%2e%2e", "/simple/..%2F/",
    "/files/.hidden.whl", "/files/demo_pkg-1.0.tar.gz%00.whl", "/files/..%5Cx.whl",
])
def test_path_traversal_refused(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code in (301, 400, 404)
    assert b"VALUE" not in r.content and b"SQLite" not in r.content
    if r.status_code == 301:
        assert ".." not in r.headers["location"]


def test_file_download_headers_head_etag(client: TestClient, store: Store) -> None:
    name = wheel_name("Demo_Pkg", "1.0")
    info = store.info(name)
    r = client.get(f"/files/{name}")
    assert r.status_code == 200 and r.content == store.get(name)
    assert r.headers["etag"] == f'"{info.sha256}"'
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["content-length"] == str(info.size)
    h = client.head(f"/files/{name}")
    assert h.status_code == 200 and h.content == b"" and h.headers["content-length"] == str(info.size)
    assert client.get(f"/files/{name}", headers={"If-None-Match": f'"{info.sha256}"'}).status_code == 304
    assert client.get("/files/missing-1.0-py3-none-any.whl").status_code == 404


def test_range_requests(client: TestClient, store: Store) -> None:
    name = wheel_name("Demo_Pkg", "1.0")
    data = store.get(name)
    n = len(data)
    r = client.get(f"/files/{name}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{n}"
    r = client.get(f"/files/{name}", headers={"Range": "bytes=-22"})
    assert r.status_code == 206 and r.content == data[-22:]
    r = client.get(f"/files/{name}", headers={"Range": f"bytes={n - 5}-"})
    assert r.content == data[-5:]
    r = client.get(f"/files/{name}", headers={"Range": f"bytes={n}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{n}"
    r = client.get(f"/files/{name}", headers={"Range": "bytes=0-1,5-6"})
    assert r.status_code == 200 and r.content == data
    r = client.get(f"/files/{name}", headers={"Range": "bytes=0-3", "If-Range": '"other"'})
    assert r.status_code == 200
    h = client.head(f"/files/{name}", headers={"Range": "bytes=0-3"})
    assert h.status_code == 206 and h.headers["content-length"] == "4"


class _LyingObjects:
    """An object store that hands out other bytes than were stored (bit rot, a bad disk)."""

    def __init__(self, inner: object, victim: object) -> None:
        self._inner = inner
        self._victim = victim

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def open(self, key: object) -> object:
        from casstore.format import compress as _compress

        raw = _compress.decompressing_reader(self._inner.open(key)).read()  # type: ignore[attr-defined]
        if raw:  # every blob rots (a file may be stored as several blobs)
            raw = raw[:-1] + bytes([raw[-1] ^ 0xFF])
        out = io.BytesIO()
        c = _compress.Compressor(out, 3, len(raw))
        c.write(raw)
        c.finish()
        return io.BytesIO(out.getvalue())


def test_corrupt_blob_is_never_served_whole(store: Store) -> None:
    name = wheel_name("Demo_Pkg", "1.2")
    info = store.info(name)
    lying = Store(_LyingObjects(store.objects, info.blake3), store.catalog)  # type: ignore[arg-type]
    with TestClient(make_app(lying), raise_server_exceptions=False) as c:
        try:
            r = c.get(f"/files/{name}")
        except Exception:  # noqa: BLE001
            return  # the connection was cut: the client sees a failed download
        assert len(r.content) < info.size  # the bytes that fail the digest are never sent


def test_request_counts(client: TestClient) -> None:
    name = wheel_name("Demo_Pkg", "1.0")
    client.get(f"/files/{name}")
    client.get(f"/files/{name}")
    client.get(f"/files/{name}.metadata")
    counts = client.get("/api/requests").json()
    assert counts["files"] == {name: 2} and counts["metadata"] == {name: 1}


def test_api_files_lists_digests(client: TestClient, store: Store) -> None:
    doc = client.get("/api/files?project=Demo_Pkg").json()
    assert {f["filename"] for f in doc["files"]} == {f.filename for f in store.ls()}
    assert all(f["blake3"].startswith("blake3:") for f in doc["files"])
    assert client.get("/api/files?since=2000000000").json() == {"files": []}


def test_choose_format() -> None:
    assert choose_format(PIP_ACCEPT) == "json"
    assert choose_format("text/html") == "text/html"
    assert choose_format(None) == "text/html"
    assert choose_format("*/*") == "text/html"
    assert choose_format("application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json;q=0.5") == "html"
    assert choose_format("application/json") is None
    assert choose_format("text/html", "application/vnd.pypi.simple.v1+json") == "json"
    assert choose_format(None, "bogus") is None


@pytest.mark.parametrize("header,expected", [
    ("bytes=0-0", (0, 1)), ("bytes=5-", (5, 100)), ("bytes=-10", (90, 100)), ("bytes=-200", (0, 100)),
    ("bytes=90-500", (90, 100)), ("bytes=100-", "unsatisfiable"), ("bytes=-0", "unsatisfiable"),
    ("bytes=5-2", None), ("items=0-1", None), ("bytes=a-b", None), ("bytes=0-1,3-4", None), ("bytes=5", None),
])
def test_parse_range(header: str, expected: object) -> None:
    assert parse_range(header, 100) == expected


def test_download_counts_reach_the_catalog(store: Store) -> None:
    name = wheel_name("Demo_Pkg", "1.2")
    with TestClient(make_app(store, clock=lambda: 1_800_000_000.0)) as c:
        for _ in range(3):
            c.get(f"/files/{name}")
        c.head(f"/files/{name}")  # a HEAD is not a download
        c.get(f"/files/{name}.metadata")
    assert store.downloads() == {name: 3}  # flushed at shutdown


def test_hot_cache_serves_repeats_without_the_store(store: Store) -> None:
    name = wheel_name("Demo_Pkg", "1.0")
    app = make_app(store)
    with TestClient(app) as c:
        first = c.get(f"/files/{name}").content
        assert app.state.cache.misses == 1 and app.state.cache.hits == 0
        assert c.get(f"/files/{name}").content == first == store.get(name)
        assert c.get(f"/files/{name}", headers={"Range": "bytes=2-5"}).content == first[2:6]
        assert app.state.cache.hits == 2


def test_hot_cache_is_bounded() -> None:
    from casstore.index.server import HotCache

    cache = HotCache(max_bytes=10, max_file=6)
    cache.put("a", b"12345")
    cache.put("b", b"1234567")  # larger than max_file: not kept
    cache.put("c", b"123")
    assert cache.get("a") == b"12345" and cache.get("b") is None
    cache.put("d", b"1234")  # evicts the least recently used: c
    assert cache.get("c") is None and cache.get("a") == b"12345" and cache.get("d") == b"1234"


def test_project_declared_secondary_cache_location(store: Store) -> None:
    store.put(io.BytesIO(make_wheel("other", "1.0")), wheel_name("other", "1.0"))
    app = make_app(store, project_files_url={"Demo_Pkg": "https://cache.example/demo/"})
    with TestClient(app) as c:
        demo = c.get("/simple/demo-pkg/", headers={"Accept": JSON_TYPE}).json()
        other = c.get("/simple/other/", headers={"Accept": JSON_TYPE}).json()
    assert all(f["url"].startswith("https://cache.example/demo/") for f in demo["files"])
    assert other["files"][0]["url"] == "../../files/other-1.0-py3-none-any.whl"


def test_warm_builds_pages_at_startup(store: Store) -> None:
    import time

    with TestClient(make_app(store, warm=True)):
        deadline = time.monotonic() + 10
        while not store.catalog.blobs_of(f"metadata:{wheel_name('Demo_Pkg', '1.10')}"):
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_rebuilds_beside_uploaded_wheels_are_listed_only_when_asked(store: Store) -> None:
    """pip and uv prefer a build-tagged wheel: listing a differing rebuild beside the uploaded wheel
    would switch every client to it. By default the page lists what the project published."""
    rebuilt = "Demo_Pkg-1.0-0rebuilt-py3-none-any.whl"
    store.put(io.BytesIO(make_wheel("Demo-Pkg", "1.0", extra=b"# rebuilt\n")), rebuilt, origin="rebuilt")
    alone = "Demo_Pkg-3.0-0rebuilt-py3-none-any.whl"  # nothing uploaded for 3.0: the rebuild is the wheel
    store.put(io.BytesIO(make_wheel("Demo-Pkg", "3.0")), alone, origin="rebuilt")
    for serve_rebuilt, listed in ((False, False), (True, True)):
        with TestClient(make_app(store, serve_rebuilt=serve_rebuilt)) as c:
            names = [f["filename"] for f in c.get("/simple/demo-pkg/", headers={"Accept": PIP_ACCEPT}).json()["files"]]
            assert (rebuilt in names) is listed
            assert alone in names and wheel_name("Demo_Pkg", "1.0") in names
            assert c.get(f"/files/{rebuilt}").status_code == 200  # still served by name


@pytest.mark.parametrize("cache_bytes", [256 << 20, 0])  # verified into the hot cache, or a temp file
def test_a_range_of_a_corrupt_file_is_never_sent(store: Store, cache_bytes: int) -> None:
    """A part of a file leaves only after the whole file passed its digest check: a range from the
    start of a file whose end is corrupt gets an error, not the first bytes."""
    name = wheel_name("Demo_Pkg", "1.2")
    info = store.info(name)
    lying = Store(_LyingObjects(store.objects, info.blake3), store.catalog)  # type: ignore[arg-type]
    with TestClient(make_app(lying, cache_bytes=cache_bytes), raise_server_exceptions=False) as c:
        r = c.get(f"/files/{name}", headers={"Range": "bytes=0-9"})
        assert r.status_code == 500 and "Damaged" in r.text
    with TestClient(make_app(store, cache_bytes=cache_bytes)) as c:  # the intact file: the part, as asked
        r = c.get(f"/files/{name}", headers={"Range": "bytes=2-5"})
        assert r.status_code == 206 and r.content == store.get(name)[2:6]
