"""Repair: file records, blobs restored from mirrors, and the catalog rebuilt from the blobs.

Every put also writes a small self-describing *file record* blob (``RECORD_MAGIC`` + JSON of the
file's catalog row), held by the file's owner like its other blobs; eviction writes a new one saying
``evicted``. With them the catalog can be re-derived from ``objects/`` alone: file rows and their
references from the newest record of each filename (and the recipe manifests they name), rebuild
records from the rebuild-record JSON blobs. What no blob carries — download counts, named pins,
``unrecoverable`` marks — is lost with the catalog (docs/operations.md lists it).

Mirrors are never trusted: a blob from another store is accepted only when it hashes to its name,
a file from a simple index only when it has the catalog's blake3 and sha256.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _compress, _recipe
from ._catalog import Catalog
from ._digest import CHUNK, Digest
from ._errors import CasstoreError, ChecksumMismatch, NotFound, StoreFormatError
from ._names import parse_filename
from ._objects import DiskObjects

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["RECORD_MAGIC", "Mirror", "RecoveryReport", "catalog_problems", "file_record", "parse_file_record",
           "recover_catalog", "repair_blobs"]

RECORD_MAGIC = b"casstore-file-record/1\n"
RECORD_FIELDS = ("filename", "project", "version", "kind", "tags", "size", "blake3", "sha256", "layout",
                 "manifest", "origin", "added", "state", "recipe_digest")
RECOVERED_OWNER = "recovered"  # pins every blob a catalog recovery could not attribute (nothing is deleted)
_MAX_JSON = 16 << 20

Mirror = Any  # a Store, a path to a store directory, or a simple-index URL (str starting with http)


# -- file records ---------------------------------------------------------------------------------


def file_record(row: dict[str, Any]) -> bytes:
    """The record blob of a file row: magic line + JSON (sorted keys), with a nanosecond stamp so the
    newest record of a filename wins at recovery."""
    body = {k: row.get(k) for k in RECORD_FIELDS}
    body["state"] = body["state"] or "present"
    body["written"] = time.time_ns()
    return RECORD_MAGIC + json.dumps(body, sort_keys=True).encode()


def parse_file_record(data: bytes) -> dict[str, Any] | None:
    if not data.startswith(RECORD_MAGIC):
        return None
    try:
        body = json.loads(data[len(RECORD_MAGIC):])
        parse_filename(str(body["filename"]))
        Digest.parse(str(body["blake3"]))
        return body if isinstance(body, dict) else None
    except (ValueError, KeyError, TypeError, CasstoreError):
        return None


def write_record(store: Store, row: dict[str, Any]) -> tuple[Digest, int, int]:
    """Write the record blob of ``row``; returns (digest, size, stored size). The caller references it."""
    data = file_record(row)
    w = store._write_blob(iter([data]), len(data))
    return w.digest, w.size, w.stored_size


def forget_records(store: Store, digests: Iterable[str]) -> None:
    """After an ``rm`` committed: delete the file's record blobs nobody holds any more, so that a
    catalog recovery does not bring the removed file back. (Record blobs are unique to one put, so no
    concurrent put can be claiming them.)"""
    for hexd in digests:
        row = store.catalog.blob(hexd)
        if row is None or row["size"] > 1 << 16 or store.catalog.is_referenced(hexd):
            continue
        d = Digest(hexd)
        try:
            with store.open_blob(d) as f:
                head = f.read(len(RECORD_MAGIC))
        except (CasstoreError, _compress.ZstdError):
            continue
        if head == RECORD_MAGIC:
            with store.catalog.write():
                if not store.catalog.is_referenced(hexd):
                    store.objects.delete(d)
                    store.catalog.delete_blob_row(hexd)


# -- catalog health -------------------------------------------------------------------------------


def catalog_problems(store: Store) -> list[str]:
    """What SQLite's own check finds wrong with an SQLite catalog (empty when healthy or not SQLite)."""
    where = getattr(store.catalog, "where", "")
    if not where or where == ":memory:" or not Path(where).exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{where}?mode=ro", uri=True, timeout=60)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        return [f"{where}: {e}"]
    return [] if rows == ["ok"] else [f"{where}: {r}" for r in rows[:20]]


# -- blobs from mirrors ---------------------------------------------------------------------------


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
    from ._store import Store

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
            w = store._write_blob(iter(lambda: f.read(CHUNK), b""))
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


def _has_record(store: Store, filename: str) -> bool:
    for hexd in store.catalog.blobs_of(f"file:{filename}"):
        row = store.catalog.blob(hexd)
        if row is None or row["size"] > 1 << 16:
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
        if _has_record(store, filename):
            continue
        digest, size, stored = write_record(store, row)
        with store.catalog.write():
            if store.catalog.file(filename) is None:
                store.objects.delete(digest)  # removed meanwhile
                continue
            store.catalog.add_blob(digest.hex, size, stored)
            store.catalog.add_ref(f"file:{filename}", digest.hex)
            store._ensure_present([digest])
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
    content = _content_blobs(store, row, RecoveryReport()) if row.get("state", "present") == "present" else set()
    stale = [h for h in bad if h not in content]
    if not stale or any(h in content for h in bad):
        return False  # the bytes themselves are damaged: only a mirror can help
    digest, size, stored = write_record(store, row)
    with store.catalog.write():
        for h in stale:
            store.catalog.drop_ref(f"file:{filename}", h)
        store.catalog.add_blob(digest.hex, size, stored)
        store.catalog.add_ref(f"file:{filename}", digest.hex)
        store._ensure_present([digest])
    return True


def _file_broken(store: Store, filename: str) -> bool:
    return any(not store.objects.exists(Digest(d)) for d in store.catalog.blobs_of(f"file:{filename}"))


def _refetch_file(store: Store, filename: str, urls: Sequence[str]) -> bool:
    """Fetch a damaged file from simple-index mirrors (verified against the catalog's digests) and
    store its bytes again, replacing the file's blobs and recipe in one transaction."""
    from ._mirror import Expected, FetchFailed, fetch

    info = store.info(filename)
    with tempfile.TemporaryDirectory(prefix="repair-", dir=getattr(store.objects, "tmp", None)) as tmp:
        try:
            got = fetch(filename, urls, expected=Expected(filename, info.sha256, info.blake3, info.size),
                        dest=tmp)
        except FetchFailed:
            return False
        restore_file(store, filename, got.path)
    return True


def restore_file(store: Store, filename: str, path: Path) -> None:
    """Store verified bytes of a catalogued file again: new blobs, recipe and record for its row."""
    row = store.catalog.file(filename)
    if row is None:
        raise NotFound(f"file {filename!r}")
    name = parse_filename(filename)
    with store._lease():  # no gc takes the new blobs before the commit
        _restore(store, filename, row, name, path)


def _restore(store: Store, filename: str, row: dict[str, Any], name: Any, path: Path) -> None:
    from ._store import _BlobSink

    with open(path, "rb") as spool, store.objects.batch():
        sink: _BlobSink
        sink, layout, manifest = store._store_bytes(name, spool, os.fstat(spool.fileno()).st_size,
                                                    Digest.parse(str(row["blake3"])))
        rec = write_record(store, {**row, "layout": layout, "manifest": manifest, "state": "present"})
        sink.add(*rec)
    with store.catalog.write():
        store.catalog.drop_refs(f"file:{filename}")
        store._attach(filename, sink)
        store.catalog.set_file(filename, layout=layout, manifest=manifest, state="present",
                               stored_size=sum(st for _, st in sink.blobs.values()))
        store._ensure_present(list(sink.blobs))


# -- catalog recovery -----------------------------------------------------------------------------


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
    from ._records import InvalidRecord, _index_fields

    try:
        record = json.loads(data)
        return _index_fields(record) if isinstance(record, dict) and "recipe_digest" in record else None
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
    from ._store import Store

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
                held |= _content_blobs(store, rec, report)
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


def _content_blobs(store: Store, rec: dict[str, Any], report: RecoveryReport) -> set[str]:
    """The blobs a present file's bytes need: its blob, or its manifest and every blob the recipe uses."""
    if rec.get("layout") != "recipe":
        return {Digest.parse(str(rec["blake3"])).hex}
    manifest = Digest.parse(str(rec["manifest"]))
    out = {manifest.hex}
    try:
        data = _read_verified(store, manifest)
        assert data is not None
        out |= {d.hex for d in _recipe.decode(data).refs()}
    except (NotFound, ChecksumMismatch, _compress.ZstdError, CasstoreError):
        pass  # the manifest is bad: referenced alone, it marks the file damaged; a mirror can re-fetch it
    return out

