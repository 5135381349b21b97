"""The index client: fetch a file from ordered simple-index sources (secondary caches), verified.

Nothing a source says is trusted: ``fetch`` takes its digests from the local catalog or a trusted
index and skips (and reports) any source that is down, slow, or serves other bytes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ..digest import CHUNK, Digest, Hasher
from ..errors import CasstoreError, NotFound
from ..fsutil import atomic_writer
from ..names import parse_filename
from .pages import JSON_TYPE

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["Expected", "FetchFailed", "FetchResult", "fetch", "trusted_digests"]

log = logging.getLogger("casstore.mirror")

_ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


def client_for(timeout: float) -> httpx.Client:
    return httpx.Client(follow_redirects=True, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))


@dataclass(frozen=True, slots=True)
class Expected:
    """The digests bytes must have to be accepted, from a trusted place (never from the source)."""

    filename: str
    sha256: str
    blake3: Digest | None = None
    size: int | None = None


class FetchFailed(CasstoreError):
    """No source gave the right bytes. ``reasons`` holds (source, why) for each one tried."""

    def __init__(self, filename: str, reasons: Sequence[tuple[str, str]]) -> None:
        self.filename = filename
        self.reasons = list(reasons)
        tried = "; ".join(f"{src}: {why}" for src, why in self.reasons) or "no sources given"
        super().__init__(f"Cannot fetch {filename!r} from any source ({tried})")


class Rejected(Exception):
    """One source failed; the reason goes in the report and the next source is tried."""


@dataclass(slots=True)
class FetchResult:
    filename: str
    path: Path
    source: str
    skipped: list[tuple[str, str]] = field(default_factory=list)


# -- download with verification ---------------------------------------------------------------------


def download_verified(client: httpx.Client, url: str, expected: Expected, dest: Path) -> int:
    """Stream ``url`` into ``dest`` (atomically) only if it hashes to ``expected``; else raise Rejected."""
    hasher = Hasher()
    limit = expected.size
    try:
        with client.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise Rejected(f"HTTP {resp.status_code} for {url}")
            with atomic_writer(dest) as out:
                for chunk in resp.iter_bytes(CHUNK):
                    hasher.update(chunk)
                    if limit is not None and hasher.size > limit:
                        raise Rejected(f"served more than the expected {limit} bytes")
                    out.write(chunk)
                _check(expected, hasher)
    except httpx.TimeoutException as e:
        raise Rejected(f"timed out ({type(e).__name__})") from e
    except httpx.HTTPError as e:
        raise Rejected(f"unreachable ({type(e).__name__}: {e})") from e
    return hasher.size


def _check(expected: Expected, hasher: Hasher) -> None:
    if expected.size is not None and hasher.size != expected.size:
        raise Rejected(f"served {hasher.size} bytes, expected {expected.size}")
    if hasher.sha256() != expected.sha256:
        raise Rejected(f"served bytes with sha256:{hasher.sha256()}, expected sha256:{expected.sha256}")
    if expected.blake3 is not None and hasher.digest() != expected.blake3:
        raise Rejected(f"served bytes with {hasher.digest()}, expected {expected.blake3}")


# -- fetch from ordered sources -------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.links[data.strip()] = self._href
            self._href = None


def _index_url(source: str) -> str:
    u = source.rstrip("/")
    return (u if u.endswith("/simple") else u + "/simple") + "/"


def _project_files(client: httpx.Client, source: str, project: str) -> dict[str, dict[str, object]]:
    """filename → {url, hashes} from a simple index's project page (JSON, or HTML as a fallback)."""
    page = _index_url(source) + project + "/"
    resp = client.get(page, headers={"Accept": _ACCEPT})
    if resp.status_code == 404:
        raise Rejected(f"project {project!r} not on this index")
    if resp.status_code != 200:
        raise Rejected(f"HTTP {resp.status_code} for {page}")
    out: dict[str, dict[str, object]] = {}
    if resp.headers.get("content-type", "").startswith("application/vnd.pypi.simple.v1+json"):
        try:
            for f in resp.json()["files"]:
                out[f["filename"]] = {"url": str(resp.url.join(f["url"])), "hashes": f.get("hashes", {}),
                                      "size": f.get("size")}
        except (ValueError, KeyError, TypeError) as e:
            raise Rejected(f"unreadable project page ({e})") from e
        return out
    parser = _Links()
    parser.feed(resp.text)
    for filename, href in parser.links.items():
        url, _, frag = href.partition("#")
        hashes = dict([frag.split("=", 1)]) if "=" in frag else {}
        out[filename] = {"url": str(resp.url.join(url)), "hashes": hashes, "size": None}
    return out


def trusted_digests(filename: str, *, store: Store | None = None, index: str | None = None,
                    client: httpx.Client | None = None, timeout: float = 30.0) -> Expected:
    """The digests ``filename`` must have: from the store's catalog if it knows the file, else from
    the project page of the trusted ``index`` (its sha256, and blake3 when it is a casstore index)."""
    if store is not None and store.has(filename):
        info = store.info(filename)
        return Expected(filename, info.sha256, info.blake3, info.size)
    if index is None:
        raise CasstoreError(f"No trusted digest for {filename!r}: it is not in the catalog and no trusted "
                            "index was given")
    name = parse_filename(filename)
    own = client is None
    c = client or client_for(timeout)
    try:
        files = _project_files(c, index, name.project)
    except (Rejected, httpx.HTTPError) as e:
        raise CasstoreError(f"Cannot read the trusted index {index} for {filename!r}: {e}") from e
    finally:
        if own:
            c.close()
    entry = files.get(filename)
    if entry is None:
        raise NotFound(f"{filename!r} on the trusted index {index}")
    hashes = entry["hashes"] if isinstance(entry["hashes"], dict) else {}
    if "sha256" not in hashes:
        raise CasstoreError(f"The trusted index {index} gives no sha256 for {filename!r}")
    b3 = hashes.get("blake3")
    size = entry.get("size")
    return Expected(filename, str(hashes["sha256"]), Digest.parse(str(b3)) if b3 else None,
                    int(size) if isinstance(size, int) else None)


def fetch(filename: str, sources: Sequence[str], *, expected: Expected | None = None,
          store: Store | None = None, index: str | None = None, dest: str | os.PathLike[str] = ".",
          client: httpx.Client | None = None, timeout: float = 30.0, into_store: bool = False) -> FetchResult:
    """Fetch ``filename`` from the first of ``sources`` (simple-index URLs: casstore servers, static
    exports, PyPI-like mirrors) that serves the right bytes, into ``dest`` (a directory).

    The right bytes are those of ``expected``, else of :func:`trusted_digests` (``store``'s catalog,
    then ``index``). A source that is down, slow, missing the file or serving other bytes is skipped
    and listed in ``FetchResult.skipped``; :class:`FetchFailed` when none works. ``into_store`` also
    puts the verified file into ``store`` (``origin="fetched"``)."""
    project = parse_filename(filename).project
    own = client is None
    c = client or client_for(timeout)
    try:
        exp = expected or trusted_digests(filename, store=store, index=index, client=c)
        target_dir = Path(dest)
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / filename
        skipped: list[tuple[str, str]] = []
        for source in sources:
            try:
                try:
                    files = _project_files(c, source, project)
                except httpx.TimeoutException as e:
                    raise Rejected(f"timed out ({type(e).__name__})") from e
                except httpx.HTTPError as e:
                    raise Rejected(f"unreachable ({type(e).__name__}: {e})") from e
                entry = files.get(filename)
                if entry is None:
                    raise Rejected("does not list the file")
                download_verified(c, str(entry["url"]), exp, target)
            except Rejected as e:
                log.warning("fetch %s: skipping %s: %s", filename, source, e)
                skipped.append((source, str(e)))
                continue
            if into_store and store is not None:
                store.put(target, origin="fetched")
            return FetchResult(filename, target, source, skipped)
        raise FetchFailed(filename, skipped)
    finally:
        if own:
            c.close()
