"""The simple-index server: an ASGI app (Starlette) over a :class:`Store`, run by uvicorn.

Routes::

    /simple/                     project list        (PEP 503 HTML / PEP 691 JSON, by Accept or ?format=)
    /simple/<project>/           project page        (non-normalized names redirect to the normalized one)
    /files/<filename>            the file, streamed from the store and verified; HEAD, Range, ETag
    /files/<filename>.metadata   the wheel's METADATA (PEP 658/714)
    /api/files[?project=&since=] what the store holds, with digests: what a mirror asks to sync
    /api/requests                request counts per file since the server started

All decisions (what a page shows, which format) are in :mod:`.pages`; this module does the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ..digest import CHUNK
from ..errors import CasstoreError, ChecksumMismatch, InvalidFilename, NotFound
from ..model import FileInfo
from ..names import normalize_project, parse_filename
from ..store import Store
from . import pages as _pages
from .projects import Index

__all__ = ["HotCache", "RequestLog", "make_app", "running", "serve"]

log = logging.getLogger("casstore.server")

MAX_HEAD = 64 * 1024  # bytes of request line + headers; more gets a 431 and the connection closed
_FILE_CACHE = "public, max-age=31536000, immutable"
_PAGE_CACHE = "public, max-age=60"
_METADATA_SUFFIX = ".metadata"


@dataclass
class RequestLog:
    """Requests served since start: files (the eviction policy reads these), metadata files, pages.

    ``pending`` holds file downloads not yet written to the catalog (see :meth:`drain`)."""

    files: Counter[str] = field(default_factory=Counter)
    metadata: Counter[str] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)
    pending: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, kind: str, name: str) -> None:
        with self.lock:
            getattr(self, kind)[name] += 1
            if kind == "files":
                self.pending[name] += 1

    def drain(self) -> dict[str, int]:
        with self.lock:
            out = dict(self.pending)
            self.pending.clear()
        return out

    def to_json(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {"files": dict(self.files), "metadata": dict(self.metadata), "pages": dict(self.pages)}


class HotCache:
    """Verified bytes of recently served files, in memory (least recently used out first).

    Reading a file from the compact store re-creates it (milliseconds per file); the files clients
    ask for again and again are few. Bytes enter only after a complete read passed the digest check,
    and files are immutable, so a hit needs no store access at all."""

    def __init__(self, max_bytes: int = 256 << 20, max_file: int = 32 << 20) -> None:
        self.max_bytes = max_bytes
        self.max_file = max_file
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return data

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.max_file or len(data) > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = data
            self._size += len(data)
            while self._size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)


class _App:
    def __init__(self, store: Store, index: Index, flush_interval: float,
                 count: Any = None, cache: HotCache | None = None, warm: bool = False) -> None:
        self.store = store
        self.cache = cache if cache is not None else HotCache()
        self.index = index
        self.warm = warm
        self.requests = RequestLog()
        self.version = store.catalog.change_token  # moves whenever any process commits to the catalog
        self.flush_interval = flush_interval
        self.count = count  # called with {filename: n} to persist download counts; None keeps them in memory
        self._pages: dict[tuple[str, str], tuple[object, bytes]] = {}

    # -- pages --------------------------------------------------------------------------------

    def _render(self, key: tuple[str, str], fmt: _pages.Format) -> bytes | None:
        kind, project = key
        if kind == "index":
            projects = self.index.projects()
            return (_pages.index_json(projects) if fmt == "json" else _pages.index_html(projects)).encode()
        page = self.index.project_page(project)
        if page is None:
            return None
        return (_pages.project_json(page) if fmt == "json" else _pages.project_html(page)).encode()

    async def _page(self, request: Request, kind: str, project: str) -> Response:
        fmt = _pages.choose_format(request.headers.get("accept"), request.query_params.get("format"))
        if fmt is None:
            return Response("Not Acceptable: ask for application/vnd.pypi.simple.v1+json or +html\n",
                            status_code=406, media_type="text/plain")
        key = (kind, project)
        cache_key = (fmt if fmt == "json" else "html", f"{kind}:{project}")
        version = self.version()
        hit = self._pages.get(cache_key)
        if hit is not None and hit[0] == version:
            body: bytes | None = hit[1]
        else:
            body = await run_in_threadpool(self._render, key, fmt)
            if body is not None:
                # The render may itself have written (metadata pinned): read the version after it.
                self._pages[cache_key] = (self.version(), body)
        headers = {"Vary": "Accept", "Cache-Control": _PAGE_CACHE}
        if body is None:
            return Response(_pages.not_found(fmt, f"project {project!r}"), status_code=404,
                            media_type=_pages.media_type(fmt), headers=headers)
        self.requests.hit("pages", project or "/")
        return Response(body, media_type=_pages.media_type(fmt), headers=headers)

    async def root(self, request: Request) -> Response:
        return RedirectResponse("/simple/", status_code=301)

    async def simple_index(self, request: Request) -> Response:
        return await self._page(request, "index", "")

    async def simple_project(self, request: Request) -> Response:
        raw = request.path_params["project"]
        try:
            name = normalize_project(raw)
        except ValueError:
            fmt = _pages.choose_format(request.headers.get("accept"), request.query_params.get("format"))
            return Response(_pages.not_found(fmt or "html", f"project {raw!r}"), status_code=404,
                            media_type=_pages.media_type(fmt or "html"))
        if name != raw or not request.url.path.endswith("/"):
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/simple/{name}/{query}", status_code=301)
        return await self._page(request, "project", name)

    # -- files --------------------------------------------------------------------------------

    async def file(self, request: Request) -> Response:
        filename = request.path_params["filename"]
        if filename.endswith(_METADATA_SUFFIX):
            return await self._metadata(request, filename[: -len(_METADATA_SUFFIX)])
        try:
            parse_filename(filename)
            info = await run_in_threadpool(self.store.info, filename)
        except (InvalidFilename, NotFound):
            return Response(f"Not found: {filename!r}\n", status_code=404, media_type="text/plain")
        if info.state == "evicted" and request.method != "HEAD":
            # A cache miss: bring the wheel back (secondary caches, then a rebuild) before answering,
            # so a failure is a clean 503 and not a cut connection. Concurrent requests share one rebuild.
            try:
                await run_in_threadpool(self.store.revive, filename)
            except CasstoreError as e:
                log.error("cannot reconstruct %s: %s", filename, e)
                return Response(f"Temporarily unavailable: {e}\n", status_code=503, media_type="text/plain",
                                headers={"Retry-After": "60"})
            info = await run_in_threadpool(self.store.info, filename)
        etag = f'"{info.sha256}"'
        headers = {
            "ETag": etag, "Cache-Control": _FILE_CACHE, "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if etag in _etags(request.headers.get("if-none-match")):
            return Response(status_code=304, headers=headers)
        start, end = 0, info.size  # [start, end)
        status = 200
        rng = request.headers.get("range")
        if rng and (not request.headers.get("if-range") or request.headers["if-range"] == etag):
            parsed = parse_range(rng, info.size)
            if parsed == "unsatisfiable":
                return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{info.size}"})
            if isinstance(parsed, tuple):
                start, end = parsed
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
        headers["Content-Length"] = str(end - start)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        self.requests.hit("files", filename)
        hot = self.cache.get(info.blake3.hex)
        if hot is not None:
            return Response(hot[start:end], status_code=status, headers=headers)
        if status == 206:  # a part is sent only from a file verified whole first
            try:
                part = await run_in_threadpool(self._verified_part, info, start, end)
            except ChecksumMismatch as e:
                log.error("refusing to serve a range of %s: %s", info.filename, e)
                return Response(f"Damaged in the store: {info.filename!r}\n", status_code=500,
                                media_type="text/plain")
            return StreamingResponse(part, status_code=status, headers=headers)
        return StreamingResponse(self._stream(info, start, end), status_code=status, headers=headers)

    def _verified_part(self, info: FileInfo, start: int, end: int) -> Iterator[bytes]:
        """Read the whole file through its digest check (into the hot cache when it fits, else a temp
        file), then hand out bytes [start, end): no byte of a range leaves before the file verified."""
        if info.size <= self.cache.max_file:
            with self.store.open(info.filename) as src:
                data = src.read()
            self.cache.put(info.blake3.hex, data)
            return iter([data[start:end]])
        spool = tempfile.TemporaryFile(prefix="casstore-range-")
        try:
            with self.store.open(info.filename) as src:
                shutil.copyfileobj(src, spool, CHUNK)
        except BaseException:
            spool.close()
            raise
        return _file_part(spool, start, end)

    def _stream(self, info: FileInfo, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) of a file, from the verified stream. The rest of the file is read too,
        so a corrupt blob is detected (and logged, and the connection cut) whatever range was asked."""
        pos = 0
        keep: list[bytes] | None = [] if info.size <= self.cache.max_file else None
        try:
            with self.store.open(info.filename) as src:
                while chunk := src.read(CHUNK):
                    if keep is not None:
                        keep.append(chunk)
                    lo, hi = max(start - pos, 0), min(end - pos, len(chunk))
                    pos += len(chunk)
                    if lo < hi:
                        yield chunk[lo:hi]
            if keep is not None:  # the read reached a verified EOF
                self.cache.put(info.blake3.hex, b"".join(keep))
        except ChecksumMismatch as e:
            log.error("refusing to finish serving %s: %s", info.filename, e)
            raise

    async def _metadata(self, request: Request, filename: str) -> Response:
        try:
            parse_filename(filename)
            info = await run_in_threadpool(self.store.info, filename)
            key = f"metadata:{info.blake3.hex}"  # of these bytes: a file removed and re-added differently misses
            data = self.cache.get(key)
            if data is None:
                data = await run_in_threadpool(self.index.metadata_bytes, filename)
                self.cache.put(key, data)
        except (InvalidFilename, NotFound):
            return Response(f"Not found: {filename + _METADATA_SUFFIX!r}\n", status_code=404, media_type="text/plain")
        self.requests.hit("metadata", filename)
        import hashlib

        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        headers = {"ETag": etag, "Cache-Control": _FILE_CACHE}
        if etag in _etags(request.headers.get("if-none-match")):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="text/plain; charset=utf-8", headers=headers)

    # -- api ----------------------------------------------------------------------------------

    async def api_files(self, request: Request) -> Response:
        project = request.query_params.get("project")
        try:
            since = float(request.query_params.get("since", "0"))
            proj = normalize_project(project) if project else None
        except ValueError:
            return JSONResponse({"error": "bad project or since"}, status_code=400)
        files = await run_in_threadpool(self.store.ls, proj)
        rows = [
            {"filename": f.filename, "project": f.project, "version": f.version, "kind": f.kind,
             "size": f.size, "sha256": f.sha256, "blake3": str(f.blake3), "added": f.added,
             "url": f"/files/{f.filename}"}
            for f in files if f.added >= since
        ]
        return JSONResponse({"files": rows})

    async def api_requests(self, request: Request) -> Response:
        return JSONResponse(self.requests.to_json())

    # -- lifecycle ----------------------------------------------------------------------------

    def flush(self) -> None:
        counts = self.requests.drain()
        if counts and self.count is not None:
            try:
                self.count(counts)
            except CasstoreError as e:
                log.warning("cannot record request counts: %s", e)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async def flusher() -> None:
            while True:
                await asyncio.sleep(self.flush_interval)
                await run_in_threadpool(self.flush)

        async def warmer() -> None:
            t = time.monotonic()
            try:
                n = await run_in_threadpool(self.index.warm)
            except CasstoreError as e:
                log.warning("warming the project pages failed: %s", e)
                return
            log.info("project pages of %d projects ready in %.1f s", n, time.monotonic() - t)

        task = asyncio.create_task(flusher())
        warming = asyncio.create_task(warmer()) if self.warm else None
        try:
            yield
        finally:
            task.cancel()
            if warming is not None:
                warming.cancel()
            await run_in_threadpool(self.flush)


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {t.strip().removeprefix("W/") for t in header.split(",")}


def _file_part(f: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    with f:
        f.seek(start)
        left = end - start
        while left > 0 and (chunk := f.read(min(CHUNK, left))):
            left -= len(chunk)
            yield chunk


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """A single ``bytes=`` range as [start, end); None to ignore the header (invalid or multi-range,
    RFC 9110 allows serving the whole file), ``"unsatisfiable"`` for a 416."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:
            n = int(last)
            if n < 0:
                return None
            if n == 0:
                return "unsatisfiable"
            return (max(size - n, 0), size) if size else "unsatisfiable"
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start < 0 or end <= start and last:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size)


def make_app(store: Store, *, files_url: str | None = None, flush_interval: float = 5.0,
             count_requests: bool = True, clock: Callable[[], float] = time.time,
             cache_bytes: int = 256 << 20, project_files_url: Mapping[str, str] | None = None,
             warm: bool = False, serve_rebuilt: bool = False) -> Starlette:
    """The simple-index ASGI app over ``store``. ``files_url`` points file links elsewhere (a CDN or
    a secondary cache); the default is this server's ``/files/``. Download counts are written to the
    catalog (``Store.count_downloads``, read by eviction) every ``flush_interval`` seconds and at
    shutdown, when ``count_requests`` is true. ``app.state.requests`` is the :class:`RequestLog`.
    Up to ``cache_bytes`` of verified file bytes are kept in memory for repeated requests (0: none).
    ``project_files_url`` points the file links of some projects at their declared secondary cache
    location. ``warm`` builds every project page in the background at startup (METADATA extracted once)."""
    record = getattr(store, "count_downloads", None) if count_requests else None
    count = (lambda counts: record(counts, clock())) if record is not None else None
    index = Index(store, files_url, project_files_url, serve_rebuilt=serve_rebuilt)
    a = _App(store, index, flush_interval, count, HotCache(cache_bytes), warm)
    app = Starlette(
        routes=[
            Route("/", a.root),
            Route("/simple", a.root),
            Route("/simple/", a.simple_index),
            Route("/simple/{project}", a.simple_project),
            Route("/simple/{project}/", a.simple_project),
            Route("/files/{filename}", a.file, methods=["GET", "HEAD"]),
            Route("/api/files", a.api_files),
            Route("/api/requests", a.api_requests),
        ],
        lifespan=a.lifespan,
    )
    app.router.redirect_slashes = False  # names and slashes are redirected by simple_project, nowhere else
    app.state.requests = a.requests
    app.state.index = a.index
    app.state.cache = a.cache
    app.state.flush = a.flush
    return app


def _http_protocol() -> tuple[Any, dict[str, Any]]:
    """uvicorn's HTTP protocol with the size of a request head bounded.

    httptools (uvicorn's fast parser) buffers a header of any size: one client sending 64 MB of
    header grows the server by 130 MB. This subclass counts the bytes of each request head as they
    arrive and answers 431 past :data:`MAX_HEAD`; without httptools, h11 gets the same bound."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "h11", {"h11_max_incomplete_event_size": MAX_HEAD}

    class BoundedHttpTools(HttpToolsProtocol):
        _head = 0
        _in_head = True

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head, self._in_head = 0, True

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head += len(data)
                if self._head > MAX_HEAD:
                    self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                                         b"connection: close\r\n\r\n")
                    self.transport.close()
                    return
            super().data_received(data)

    return BoundedHttpTools, {}


def serve(store: Store, host: str = "127.0.0.1", port: int = 8000, *, files_url: str | None = None,
          project_files_url: Mapping[str, str] | None = None, access_log: bool = True,
          serve_rebuilt: bool = False) -> None:
    """Run the server in the foreground until interrupted (project pages are warmed in the background)."""
    import uvicorn

    app = make_app(store, files_url=files_url, project_files_url=project_files_url, warm=True,
                   serve_rebuilt=serve_rebuilt)
    http, extra = _http_protocol()
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info", http=http, **extra)


@contextlib.contextmanager
def running(app: Any, host: str = "127.0.0.1", port: int = 0, *, access_log: bool = False) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL (``http://host:port``).
    ``port=0`` picks a free port. For tests, benchmarks, and embedding."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    http, extra = _http_protocol()
    config = uvicorn.Config(app, log_level="warning", access_log=access_log, lifespan="on", http=http, **extra)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CasstoreError(f"server on {host}:{sock.getsockname()[1]} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
