"""Mirrors: make a store a secondary cache of a casstore server, copying what it lacks by digest.

Nothing the primary's files say is trusted beyond its listing: ``sync_mirror`` takes its digests from
the primary it was told to mirror and checks every byte against them before the store sees it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ..digest import Digest
from ..errors import CasstoreError, FileConflict
from ..names import normalize_project, parse_filename
from ..store import Store
from .client import Expected, Rejected, client_for, download_verified

__all__ = ["SyncReport", "sync_mirror"]

log = logging.getLogger("casstore.mirror")


@dataclass(slots=True)
class SyncReport:
    fetched: list[str] = field(default_factory=list)
    present: int = 0
    bytes_fetched: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"fetched": self.fetched, "present": self.present, "bytes_fetched": self.bytes_fetched,
                "failed": [list(f) for f in self.failed]}


def _base(url: str) -> str:
    u = url.rstrip("/")
    return u.removesuffix("/simple")


def sync_mirror(store: Store, primary: str, *, project: str | None = None, since: float | None = None,
                client: httpx.Client | None = None, timeout: float = 30.0,
                progress: Callable[[str], None] | None = None) -> SyncReport:
    """Copy into ``store`` every file the casstore server at ``primary`` has and the store lacks
    (compared by digest), verified against the primary's blake3, sha256 and size, stored with
    ``origin="mirrored"``. Re-running fetches only what is new."""
    base = _base(primary)
    own = client is None
    c = client or client_for(timeout)
    report = SyncReport()
    try:
        params: dict[str, str] = {}
        if project:
            params["project"] = normalize_project(project)
        if since is not None:
            params["since"] = repr(since)
        try:
            resp = c.get(f"{base}/api/files", params=params)
            resp.raise_for_status()
            listing = resp.json()["files"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
            raise CasstoreError(f"Cannot list the files of {base} ({type(e).__name__}: {e})") from e
        for entry in listing:
            try:
                name = parse_filename(str(entry["filename"]))
                expected = Expected(name.filename, str(entry["sha256"]), Digest.parse(str(entry["blake3"])),
                                    int(entry["size"]))
            except (KeyError, ValueError, TypeError, CasstoreError) as e:
                report.failed.append((str(entry.get("filename", "?")), f"bad listing entry: {e}"))
                continue
            if store.has(name.filename):
                local = store.info(name.filename)
                if local.blake3 == expected.blake3:
                    report.present += 1
                else:
                    report.failed.append((name.filename, str(FileConflict(name.filename, str(local.blake3),
                                                                          str(expected.blake3)))))
                continue
            url = str(httpx.URL(f"{base}/").join(str(entry.get("url") or f"/files/{name.filename}")))
            with tempfile.TemporaryDirectory(prefix="casstore-mirror-") as tmp:
                path = Path(tmp) / name.filename
                try:
                    size = download_verified(c, url, expected, path)
                except Rejected as e:
                    log.warning("mirror sync: not storing %s from %s: %s", name.filename, base, e)
                    report.failed.append((name.filename, str(e)))
                    continue
                store.put(path, origin="mirrored")
            report.fetched.append(name.filename)
            report.bytes_fetched += size
            if progress:
                progress(name.filename)
    finally:
        if own:
            c.close()
    return report
