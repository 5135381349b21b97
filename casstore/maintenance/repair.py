"""Repair: corrupt blobs moved aside, bad blobs restored from mirrors, damaged files fetched again,
file records rewritten or backfilled.

Mirrors are never trusted: a blob from another store is accepted only when it hashes to its name,
a file from a simple index only when it has the catalog's blake3 and sha256.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..digest import CHUNK, Digest
from ..errors import CasstoreError, ChecksumMismatch, NotFound
from ..format import compress as _compress
from ..format import recipe as _recipe
from ..format.filerecord import MAX_RECORD, RECORD_MAGIC
from ..objects import DiskObjects
from ..store import Store

__all__ = ["Mirror", "backfill_records", "content_blobs", "repair_blobs"]

Mirror = Any  # a Store, a path to a store directory, or a simple-index URL (str starting with http)


def _quarantine(store: Store, digest: Digest) -> str | None:
    """Move a corrupt object aside (never delete it): ``quarantine/<hex>`` below the store root."""
    if not isinstance(store.objects, DiskObjects) or store.root is None:
        store.objects.delete(digest)  # memory and object-storage stores: nothing to move it to
        return None
    src = Path(store.objects.describe(digest))
    dest_dir = store.root / "quarantine"
    dest_dir.mkdir(exist_ok=True)
    dest = dest_dir / f"{digest.hex}.{time.strftime('%Y%m%dT%H%M%S')}"
    try:
        os.replace(src, dest)
    except FileNotFoundError:
        return None
    return str(dest)


def _open_mirror(m: Mirror) -> tuple[str, Any]:
    if isinstance(m, Store):
        return "store", m
    text = os.fspath(m)
    if text.startswith(("http://", "https://")):
        return "url", text
    return "store", Store.directory(text, create=False)


def _copy_blob(store: Store, mirror: Store, digest: Digest) -> bool:
    """Copy one blob from ``mirror`` (read verified against its name) into ``store``."""
    try:
        with mirror.open_blob(digest) as f:
            w = store.write_blob(iter(lambda: f.read(CHUNK), b""))
    except (CasstoreError, _compress.ZstdError, OSError):
        return False
    return w.digest == digest


def repair_blobs(store: Store, corrupt: Sequence[str], missing: Sequence[str], damaged_files: Sequence[str],
                 mirrors: Sequence[Mirror]) -> tuple[list[str], list[str]]:
    """Quarantine corrupt objects, then bring back every bad blob from the first mirror store that has
    it, then every still-damaged file from a simple-index mirror. Returns (repaired, quarantined)."""
    repaired: list[str] = []
    quarantined: list[str] = []
    for d in corrupt:
        where = _quarantine(store, Digest.parse(d))
        if where:
            quarantined.append(where)
    opened = [_open_mirror(m) for m in mirrors]
    wanted = [Digest.parse(d) for d in (*corrupt, *missing)]
    for digest in wanted:
        if not store.catalog.is_referenced(digest.hex):
            continue  # a corrupt blob nothing holds: moved aside, nothing to restore
        for kind, m in opened:
            if kind == "store" and _copy_blob(store, m, digest):
                repaired.append(f"{digest} from {m.root or m}")
                break
    for filename in damaged_files:
        if _rewrite_record(store, filename):
            repaired.append(f"record of {filename} rewritten from the catalog")
    urls = [m for kind, m in opened if kind == "url"]
    if urls:
        for filename in damaged_files:
            if _file_broken(store, filename) and _refetch_file(store, filename, urls):
                repaired.append(f"file {filename} from {', '.join(urls)}")
    for kind, m in opened:
        if kind == "store" and m not in mirrors:
            m.close()
    return repaired, quarantined


def _file_broken(store: Store, filename: str) -> bool:
    return any(not store.objects.exists(Digest(d)) for d in store.catalog.blobs_of(f"file:{filename}"))


def _refetch_file(store: Store, filename: str, urls: Sequence[str]) -> bool:
    """Fetch a damaged file from simple-index mirrors (verified against the catalog's digests) and
    store its bytes again, replacing the file's blobs and recipe in one transaction."""
    from ..index.client import Expected, FetchFailed, fetch  # the web client loads only when needed

    info = store.info(filename)
    with tempfile.TemporaryDirectory(prefix="repair-", dir=getattr(store.objects, "tmp", None)) as tmp:
        try:
            got = fetch(filename, urls, expected=Expected(filename, info.sha256, info.blake3, info.size),
                        dest=tmp)
        except FetchFailed:
            return False
        store.restore(filename, got.path)
    return True


def _has_record(store: Store, filename: str) -> bool:
    for hexd in store.catalog.blobs_of(f"file:{filename}"):
        row = store.catalog.blob(hexd)
        if row is None or row["size"] > MAX_RECORD:
            continue
        try:
            with store.open_blob(Digest(hexd)) as f:
                if f.read(len(RECORD_MAGIC)) == RECORD_MAGIC:
                    return True
        except (CasstoreError, _compress.ZstdError):
            continue
    return False


def backfill_records(store: Store) -> list[str]:
    """Give every file without a record blob (stored before records existed) one written from its
    row, so that the catalog can be re-derived from the blobs from now on. Returns the filenames."""
    done = []
    for row in store.catalog.files():
        filename = str(row["filename"])
        if not _has_record(store, filename) and store.add_file_record(filename, row):
            done.append(filename)
    return done


def _rewrite_record(store: Store, filename: str) -> bool:
    """A file whose bytes are intact but whose record blob is bad gets a new record from its row
    (records are unique to one put, so no mirror has it)."""
    row = store.catalog.file(filename)
    if row is None:
        return False
    held = store.catalog.blobs_of(f"file:{filename}")
    bad = [h for h in held if not store.objects.exists(Digest(h))]
    if not bad:
        return False
    content = content_blobs(store, row) if row.get("state", "present") == "present" else set()
    stale = [h for h in bad if h not in content]
    if not stale or any(h in content for h in bad):
        return False  # the bytes themselves are damaged: only a mirror can help
    return store.add_file_record(filename, row, replacing=stale)


def content_blobs(store: Store, rec: dict[str, Any]) -> set[str]:
    """The blobs a present file's bytes need: its blob, or its manifest and every blob the recipe uses.
    A manifest that cannot be read is returned alone (it marks the file damaged)."""
    if rec.get("layout") != "recipe":
        return {Digest.parse(str(rec["blake3"])).hex}
    manifest = Digest.parse(str(rec["manifest"]))
    out = {manifest.hex}
    try:
        with store.open_blob(manifest) as f:
            data = f.read()
        out |= {d.hex for d in _recipe.decode(data).refs()}
    except (NotFound, ChecksumMismatch, _compress.ZstdError, CasstoreError):
        pass  # the manifest is bad: referenced alone, it marks the file damaged; a mirror can re-fetch it
    return out
