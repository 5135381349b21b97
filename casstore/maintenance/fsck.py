"""fsck: re-hash every object of a store; report corrupt, missing and unreferenced blobs, the files
they break, and what SQLite finds wrong with the catalog; with ``repair``, fix what can be fixed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from ..digest import CHUNK
from ..errors import ChecksumMismatch
from ..format import compress as _compress
from ..model import FsckReport
from ..objects import DiskObjects
from ..store import Store
from .repair import Mirror, backfill_records, repair_blobs

__all__ = ["catalog_problems", "fsck"]


def fsck(store: Store, progress: Callable[[int], None] | None = None, *, repair: bool = False,
         mirrors: Sequence[Mirror] = ()) -> FsckReport:
    """Re-hash every object; report corrupt, missing and unreferenced ones and the files they break,
    and what SQLite finds wrong with the catalog.

    ``repair`` moves corrupt objects aside (``quarantine/``) and restores bad blobs from ``mirrors``
    (other stores, or store paths, by digest; simple-index URLs, by file), every byte verified;
    the report is then that of a second pass, with ``repaired`` and ``quarantined`` filled in. A lost
    or unreadable catalog is rebuilt by :func:`casstore.recover_catalog` (``fsck --repair``)."""
    report = _fsck_pass(store, progress)
    if repair and (report.corrupt or report.missing):
        repaired, quarantined = repair_blobs(
            store, [d for d, _ in report.corrupt], report.missing, report.damaged_files, mirrors)
        report = _fsck_pass(store, progress)
        report.repaired, report.quarantined = repaired, quarantined
    if repair:  # files stored before file records existed get one (docs/operations.md)
        report.repaired += [f"record of {f} written" for f in backfill_records(store)]
    return report


def _fsck_pass(store: Store, progress: Callable[[int], None] | None) -> FsckReport:
    report = FsckReport(catalog_problems=catalog_problems(store))
    referenced = store.catalog.referenced_digests()
    present: set[str] = set()
    bad: set[str] = set()
    for key in store.objects.keys():
        present.add(key.hex)
        report.objects_checked += 1
        try:
            with store.open_blob(key) as f:
                while chunk := f.read(CHUNK):
                    report.bytes_checked += len(chunk)
                    if progress:
                        progress(len(chunk))
        except ChecksumMismatch as e:
            report.corrupt.append((str(key), f"content hashes to {e.actual}"))
            bad.add(key.hex)
        except _compress.ZstdError as e:
            report.corrupt.append((str(key), f"not a valid zstd stream ({e})"))
            bad.add(key.hex)
        if key.hex not in referenced:
            report.unreferenced.append(str(key))
    for digest in sorted(referenced - present):
        report.missing.append(f"blake3:{digest}")
        bad.add(digest)
    damaged: set[str] = set()
    for digest in sorted(bad):
        for owner in store.catalog.owners_of(digest):
            if owner.startswith("file:"):
                damaged.add(owner[5:])
    report.damaged_files = sorted(damaged)
    if isinstance(store.objects, DiskObjects):
        report.temp_files = sum(1 for _ in store.objects.tmp.iterdir())
    return report


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
