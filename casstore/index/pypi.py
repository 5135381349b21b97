"""Pull releases from an upstream simple index (PEP 691 JSON), verifying every file by sha256.

The demo, the benchmarks and the tests use this to fetch real sdists and wheels; files are cached
in a download directory and re-verified before reuse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import CasstoreError, ChecksumMismatch
from ..fsutil import atomic_writer
from ..names import parse_filename

__all__ = ["PYPI_SIMPLE", "RemoteFile", "download", "list_files", "select"]

PYPI_SIMPLE = "https://pypi.org/simple/"
_ACCEPT = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True, slots=True)
class RemoteFile:
    filename: str
    url: str
    sha256: str
    size: int | None
    version: Version
    kind: str
    yanked: bool


def _client() -> httpx.Client:
    return httpx.Client(follow_redirects=True, timeout=httpx.Timeout(60.0, connect=20.0))


def list_files(project: str, *, index: str = PYPI_SIMPLE, client: httpx.Client | None = None) -> list[RemoteFile]:
    """Every sdist and wheel the index lists for ``project`` (files with names we cannot parse are skipped)."""
    url = index.rstrip("/") + "/" + canonicalize_name(project) + "/"
    own = client is None
    c = client or _client()
    try:
        resp = c.get(url, headers={"Accept": _ACCEPT})
        if resp.status_code == 404:
            raise CasstoreError(f"Project {project!r} not found on {index}")
        resp.raise_for_status()
        data = resp.json()
    except httpx.HTTPError as e:
        raise CasstoreError(f"Cannot list {project!r} on {index}: {e}") from e
    finally:
        if own:
            c.close()
    out = []
    for f in data.get("files", []):
        try:
            name = parse_filename(f["filename"])
            version = Version(name.version)
        except (ValueError, InvalidVersion):
            continue
        sha = f.get("hashes", {}).get("sha256")
        if not sha:
            continue
        url_ = str(httpx.URL(url).join(f["url"]))
        out.append(RemoteFile(f["filename"], url_, sha, f.get("size"), version, name.kind, bool(f.get("yanked"))))
    return out


def select(files: Iterable[RemoteFile], spec: str, *, latest: int | None = None,
           kinds: tuple[str, ...] = ("sdist", "wheel")) -> list[RemoteFile]:
    """Files matching a requirement-style spec (``numpy>=2,<2.2``); ``latest`` keeps the newest N releases."""
    try:
        req = Requirement(spec)
    except InvalidRequirement as e:
        raise CasstoreError(f"Invalid requirement {spec!r}: {e}") from e
    chosen = [
        f for f in files
        if f.kind in kinds and not f.yanked and not f.version.is_prerelease
        and req.specifier.contains(f.version, prereleases=False)
    ]
    if latest is not None:
        versions = sorted({f.version for f in chosen}, reverse=True)[:latest]
        chosen = [f for f in chosen if f.version in versions]
    return sorted(chosen, key=lambda f: (f.version, f.filename))


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def download(remote: RemoteFile, dest_dir: Path, *, client: httpx.Client | None = None,
             progress: Callable[[int], None] | None = None) -> Path:
    """Download into ``dest_dir`` (cached: an existing file is reused after its sha256 checks)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / remote.filename
    if dest.exists() and _sha256_file(dest) == remote.sha256:
        if progress:
            progress(dest.stat().st_size)
        return dest
    own = client is None
    c = client or _client()
    try:
        h = hashlib.sha256()
        with atomic_writer(dest) as out, c.stream("GET", remote.url) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_bytes(1 << 20):
                h.update(chunk)
                out.write(chunk)
                if progress:
                    progress(len(chunk))
            if h.hexdigest() != remote.sha256:
                raise ChecksumMismatch(remote.url, f"sha256:{remote.sha256}", f"sha256:{h.hexdigest()}")
    except httpx.HTTPError as e:
        raise CasstoreError(f"Cannot download {remote.url}: {e}") from e
    finally:
        if own:
            c.close()
    return dest
