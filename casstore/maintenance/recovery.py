"""Catalog recovery: the SQLite catalog rebuilt from the blobs alone.

File rows and their references come from the newest file record of each filename
(:mod:`casstore.format.filerecord`) and the recipe manifests they name; rebuild records from the
rebuild-record JSON blobs. What no blob carries — download counts, named pins, ``unrecoverable``
marks — is lost with the catalog (docs/operations.md lists it).
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import Catalog
from ..digest import CHUNK, Digest
from ..errors import CasstoreError, ChecksumMismatch, StoreFormatError
from ..format import compress as _compress
from ..format.filerecord import RECORD_FIELDS, parse_file_record
from ..objects import DiskObjects
from ..store import Store
from ..store.rebuilds import InvalidRecord, index_fields
from .repair import content_blobs

__all__ = ["RECOVERED_OWNER", "RecoveryReport", "catalog_needs_recovery", "recover_catalog", "recover_if_needed"]

RECOVERED_OWNER = "recovered"  # pins every blob a catalog recovery could not attribute (nothing is deleted)
_MAX_JSON = 16 << 20


@dataclass(slots=True)
class RecoveryReport:
    moved_aside: list[str] = field(default_factory=list)  # the broken catalog files, kept
    files: int = 0
    evicted: int = 0
    rebuild_records: int = 0
    blobs: int = 0
    corrupt: list[str] = field(default_factory=list)  # objects skipped (fsck --repair can restore them)
    missing: list[str] = field(default_factory=list)  # blobs a record or manifest names that are absent
    recovered_pins: int = 0  # blobs no record accounts for, pinned under owner 'recovered'

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _move_aside(root: Path) -> list[str]:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        p = root / f"catalog.sqlite{suffix}"
        if p.exists():
            dest = root / f"catalog.sqlite.broken-{stamp}{suffix}"
            n = 1
            while dest.exists():
                dest = root / f"catalog.sqlite.broken-{stamp}.{n}{suffix}"
                n += 1
            os.replace(p, dest)
            moved.append(str(dest))
    return moved


def _read_verified(store: Store, digest: Digest, limit: int | None = None) -> bytes | None:
    """The blob's bytes (``None`` past ``limit``); raises ChecksumMismatch/ZstdError when corrupt."""
    buf = io.BytesIO()
    with store.open_blob(digest) as f:
        while chunk := f.read(CHUNK):
            if limit is None or buf.tell() < limit:
                buf.write(chunk)
    data = buf.getvalue()
    return None if limit is not None and len(data) > limit else data


def _rebuild_record(data: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(data)
        return index_fields(record) if isinstance(record, dict) and "recipe_digest" in record else None
    except (ValueError, InvalidRecord):
        return None


def catalog_needs_recovery(root: Path) -> str | None:
    """Why the SQLite catalog of the store at ``root`` must be rebuilt from the blobs, or None."""
    path = root / "catalog.sqlite"
    if not path.exists():
        return "missing" if any((root / "objects").glob("*/*")) else None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        return f"unreadable ({e})"
    if rows != ["ok"]:
        return f"damaged ({'; '.join(rows[:3])})"
    if not {"files", "blobs", "refs"} <= tables and any((root / "objects").glob("*/*")):
        return "has no files/blobs/refs tables"
    return None


def recover_if_needed(root: Path) -> RecoveryReport | None:
    """``fsck --repair``: rebuild the catalog when it is missing, unreadable or damaged."""
    if not (root / "casstore.json").exists() or catalog_needs_recovery(root) is None:
        return None
    return recover_catalog(root)


def recover_catalog(root: str | os.PathLike[str]) -> RecoveryReport:
    """Rebuild the catalog of the store at ``root`` from its objects. The old catalog files (if any)
    are moved aside as ``catalog.sqlite.broken-<time>``, never deleted. Writers must be stopped."""
    root = Path(root)
    if not (root / "casstore.json").exists() or not (root / "objects").is_dir():
        raise StoreFormatError(str(root), "not a casstore store (no casstore.json or objects/)")
    report = RecoveryReport(moved_aside=_move_aside(root))
    store = Store(DiskObjects(root), Catalog.open(root / "catalog.sqlite"), root=root)
    try:
        _rederive(store, report)
    finally:
        store.close()
    return report


def _rederive(store: Store, report: RecoveryReport) -> None:
    sizes: dict[str, tuple[int, int]] = {}
    records: dict[str, tuple[dict[str, Any], str]] = {}
    rebuilds: list[tuple[dict[str, Any], str]] = []
    for key in store.objects.keys():
        try:
            data = _read_verified(store, key, limit=_MAX_JSON)
        except (ChecksumMismatch, _compress.ZstdError, CasstoreError):
            report.corrupt.append(str(key))
            continue
        stored = store.objects.stat(key).size
        size = len(data) if data is not None else _blob_size(store, key)
        sizes[key.hex] = (size, stored)
        if data is None:
            continue
        rec = parse_file_record(data)
        if rec is not None:
            old = records.get(rec["filename"])
            if old is None or (rec.get("written") or 0) > (old[0].get("written") or 0):
                records[rec["filename"]] = (rec, key.hex)
            continue
        if data[:1] == b"{":
            idx = _rebuild_record(data)
            if idx is not None:
                rebuilds.append((idx, key.hex))
    attributed: set[str] = set()
    with store.catalog.write():
        cat = store.catalog
        for hexd, (size, stored) in sizes.items():
            cat.add_blob(hexd, size, stored)
        for filename, (rec, rec_hex) in sorted(records.items()):
            owner = f"file:{filename}"
            held = {rec_hex}
            if rec.get("state", "present") == "present":
                held |= content_blobs(store, rec)
            for hexd in held:
                if hexd not in sizes:
                    cat.add_blob(hexd, 0, 0)  # absent: fsck reports it missing, a mirror can restore it
                    report.missing.append(f"blake3:{hexd}")
                cat.add_ref(owner, hexd)
            attributed |= held
            row = {k: rec.get(k) for k in RECORD_FIELDS}
            row["stored_size"] = sum(sizes.get(h, (0, 0))[1] for h in held)
            row["state"] = rec.get("state") or "present"
            cat.insert_file(row)
            report.files += 1
            report.evicted += row["state"] == "evicted"
        for idx, hexd in rebuilds:
            rid = f"{idx['recipe_digest']}@{idx['started']}"
            cat.add_rebuild({"id": rid, **idx, "record": f"blake3:{hexd}"})
            cat.add_ref(f"record:{rid}", hexd)
            attributed.add(hexd)
            report.rebuild_records += 1
        for hexd in sorted(set(sizes) - attributed):
            cat.add_ref(RECOVERED_OWNER, hexd)
            report.recovered_pins += 1
    report.blobs = len(sizes)


def _blob_size(store: Store, key: Digest) -> int:
    n = 0
    with store.open_blob(key) as f:
        while chunk := f.read(CHUNK):
            n += len(chunk)
    return n
