"""The store: content-addressed blobs, zstd at rest, a catalog of sdists and wheels.

``Store`` is orchestration over two abstractions, an :class:`ObjectStore` (where compressed bytes
live) and a :class:`Catalog` (what they mean). It never trusts what it reads: every byte handed out
is hashed on the way and checked against the digest it was stored under.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ..catalog import BaseCatalog, Catalog, open_catalog
from ..digest import CHUNK, Digest, Hasher
from ..errors import (
    CasstoreError,
    ChecksumMismatch,
    Evicted,
    FileConflict,
    NotFound,
    SameDistribution,
    StoreFormatError,
)
from ..format import compress as _compress
from ..format import recipe as _recipe
from ..format.filerecord import MAX_RECORD, RECORD_MAGIC, file_record
from ..format.reader import verified
from ..fsutil import atomic_write_bytes, atomic_writer
from ..model import FileInfo, GcReport, ProjectStats, Stats
from ..names import DistName, normalize_project, parse_filename, same_distribution
from ..objects import DiskObjects, MemoryObjects, ObjectStore
from .ingest import BlobSink, BlobVanished, Source, check_magic, chunks, opened, prepend, seekable, split_file
from .reading import open_recipe
from .rebuilds import index_fields

__all__ = ["DEFAULT_GRACE", "FORMAT_VERSION", "Reviver", "Store", "Written"]

FORMAT_VERSION = 2  # 1: every file one blob; 2: files may be recipes (docs/format.md)
MEMBER_LEVEL = 9  # zstd level for decompressed archive members (measured in docs/format.md)
TIERS = ("compact", "fast")
DEFAULT_GRACE = 3600.0  # seconds an unreferenced blob is kept, so concurrent puts can claim it
_MARKER = "casstore.json"

Ref = str | Digest


@dataclass(frozen=True, slots=True)
class Written:
    """A blob just written by :meth:`Store.write_blob`: not referenced by anything yet."""

    digest: Digest
    sha256: str
    size: int
    stored_size: int
    new: bool


class Reviver(Protocol):
    """What a store calls when a file it must read has been evicted (its bytes released, its row and
    digests kept). :class:`casstore.WheelCache` is one: secondary caches first, then a rebuild."""

    def revive(self, store: Store, info: FileInfo) -> None:
        """Put the file's bytes back into ``store`` (bytes with the recorded digest), or raise a
        :class:`CasstoreError` saying why not."""
        ...


class Store:
    """A casstore store. Open one with :func:`casstore.open_store` (a directory, ``s3://`` with a
    catalog URL, or ``memory://``; it wires a :class:`casstore.WheelCache` in as the reviver),
    :meth:`directory` or :meth:`memory` (no reviver: reading an evicted file raises :class:`Evicted`)."""

    def __init__(self, objects: ObjectStore, catalog: BaseCatalog, *, clock: Callable[[], float] = time.time,
                 level: int = _compress.DEFAULT_LEVEL, root: Path | None = None, tier: str = "compact",
                 member_level: int = MEMBER_LEVEL, reviver: Reviver | None = None) -> None:
        """``reviver`` brings evicted files back when they are read (default: none)."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}, expected one of {TIERS}")
        self.objects = objects
        self.catalog = catalog
        self.root = root
        self.tier = tier
        self.reviver = reviver
        self._clock = clock
        self._level = level
        self._member_level = member_level

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def directory(cls, path: str | os.PathLike[str], *, create: bool = True,
                  catalog: str | os.PathLike[str] | None = None, **kw: Any) -> Store:
        """Open (or create) the embedded default: a directory with objects and an SQLite catalog
        (``catalog``: another catalog URL for the same objects, e.g. PostgreSQL on a shared volume)."""
        root = Path(path)
        marker = root / _MARKER
        if marker.exists():
            try:
                meta = json.loads(marker.read_text())
                fmt = int(meta["format"])
            except (ValueError, KeyError, TypeError) as e:
                raise StoreFormatError(str(root), f"unreadable {_MARKER} ({e})") from e
            if fmt > FORMAT_VERSION:
                raise StoreFormatError(str(root), f"format {fmt} is newer than this casstore ({FORMAT_VERSION})")
            if fmt < FORMAT_VERSION:
                # Every older format is a subset of this one: upgrade the marker so that an older
                # casstore, which cannot read recipes, refuses the store instead of misreading it.
                meta["format"] = FORMAT_VERSION
                atomic_write_bytes(marker, json.dumps(meta).encode() + b"\n")
        elif not create:
            raise StoreFormatError(str(root), f"no {_MARKER} (run 'casstore init' first)")
        elif root.exists() and any(root.iterdir()):
            raise StoreFormatError(str(root), "directory is not empty and is not a store")
        else:
            root.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(marker, json.dumps({"format": FORMAT_VERSION}).encode() + b"\n")
        if catalog is not None:
            return cls(DiskObjects(root), open_catalog(catalog), root=root, **kw)
        catalog = root / "catalog.sqlite"
        if marker.exists() and not catalog.exists() and any((root / "objects").glob("*/*")):
            # A fresh empty catalog would make every blob garbage: refuse, and say how to rebuild it.
            raise StoreFormatError(str(catalog), "the catalog is missing but objects/ holds blobs; "
                                   "run 'casstore fsck --repair' to rebuild it from the blobs")
        return cls(DiskObjects(root), Catalog.open(catalog), root=root, **kw)

    @classmethod
    def memory(cls, **kw: Any) -> Store:
        return cls(MemoryObjects(), Catalog.memory(), **kw)

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.root is not None:
            return f"Store({str(self.root)!r})"
        return "Store('memory')" if isinstance(self.objects, MemoryObjects) else f"Store({self.objects!r})"

    # -- blobs --------------------------------------------------------------------------------

    def write_blob(self, chunks: Iterable[bytes], size_hint: int = -1, level: int | None = None) -> Written:
        """Write one blob (compressed, named by the digest of ``chunks``). Nothing references it yet:
        call inside :meth:`lease` and reference it in a catalog transaction, or a gc may take it."""
        hasher = Hasher()
        writer = self.objects.writer()
        try:
            comp = _compress.Compressor(writer, self._level if level is None else level, size_hint)
            for chunk in chunks:
                hasher.update(chunk)
                comp.write(chunk)
            comp.finish()
            digest = hasher.digest()
            new = writer.commit(digest)
        except BaseException:
            writer.abort()
            raise
        try:
            stored = comp.written if new else self.objects.stat(digest).size
        except NotFound:  # the existing copy was just collected by a concurrent gc
            raise BlobVanished(digest) from None
        return Written(digest, hasher.sha256(), hasher.size, stored, new)

    def open_blob(self, digest: Digest, name: str | None = None) -> io.BufferedReader:
        """Stream a blob's original bytes, verified against its digest."""
        raw = self.objects.open(digest)
        return verified(_compress.decompressing_reader(raw), digest, name or str(digest))

    def get_blob(self, digest: Digest) -> bytes:
        with self.open_blob(digest) as f:
            return f.read()

    def put_blob(self, source: bytes | Source, *, ref: str | None = None) -> Digest:
        """Store plain bytes (a log, a record); ``ref`` names an owner that keeps it from gc."""
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        with self.lease(), opened(source) as (stream, size):
            written = self.write_blob(chunks(stream), size)
            with self.catalog.write():
                self.catalog.add_blob(written.digest.hex, written.size, written.stored_size)
                if ref is not None:
                    self.catalog.add_ref(ref, written.digest.hex)
                self.ensure_present([written.digest])
        return written.digest

    def pin(self, ref: str, digest: Digest) -> None:
        with self.catalog.write():
            if self.catalog.blob(digest.hex) is None:
                raise NotFound(f"blob {digest}")
            self.catalog.add_ref(ref, digest.hex)

    def unpin(self, ref: str) -> int:
        with self.catalog.write():
            return self.catalog.drop_refs(ref)

    def ensure_present(self, digests: list[Digest]) -> None:
        """Inside a write transaction: raise if a blob about to be referenced was collected meanwhile."""
        for d in digests:
            if not self.objects.exists(d):  # a gc removed it between our write and this transaction
                raise BlobVanished(d)

    # -- files --------------------------------------------------------------------------------

    def put(self, source: Source, filename: str | None = None, *, origin: str = "uploaded") -> FileInfo:
        """Add an sdist or wheel. Returns its :class:`FileInfo`; putting the same bytes again is a no-op."""
        if filename is None:
            if isinstance(source, (str, os.PathLike)):
                filename = os.path.basename(os.fspath(source))
            else:
                filename = os.path.basename(getattr(source, "name", "") or "")
        name = parse_filename(filename)
        for attempt in range(3):
            try:
                with self.lease():  # no gc takes what this put writes before it commits
                    return self._put_once(source, name, origin)
            except BlobVanished:
                if attempt == 2 or not isinstance(source, (str, os.PathLike)) and not seekable(source):
                    raise CasstoreError(f"{filename!r}: blob removed by a concurrent gc; retry the put") from None
                if not isinstance(source, (str, os.PathLike)):
                    source.seek(0)
        raise AssertionError("unreachable")

    def _check_spelling(self, name: DistName) -> None:
        """Refuse a second spelling of a stored distribution (``Foo-1.0`` beside ``foo-1.00``)."""
        for row in self.catalog.files(project=name.project, kind=name.kind):
            if row["filename"] != name.filename and same_distribution(parse_filename(row["filename"]), name):
                raise SameDistribution(name.filename, row["filename"])

    def _put_once(self, source: Source, name: DistName, origin: str) -> FileInfo:
        existing = self.catalog.file(name.filename)
        if existing is None:
            self._check_spelling(name)
        evicted = existing if existing is not None and existing.get("state") == "evicted" else None
        if evicted is not None:
            existing = None  # the same bytes again bring an evicted file back
        with opened(source) as (stream, _size), self._spool() as spool:
            head = stream.read(CHUNK)
            check_magic(name, head)
            hasher = Hasher()
            for chunk in prepend(head, stream):  # spool while hashing: one pass over the input
                hasher.update(chunk)
                if existing is None:
                    spool.write(chunk)
            digest = hasher.digest()
            if existing is not None:
                return self._same_or_conflict(existing, digest)
            spool.flush()
            size = hasher.size
            added = evicted["added"] if evicted else self._clock()  # a revived row keeps both
            origin = str(evicted["origin"] or origin) if evicted else origin
            with self.objects.batch():  # every blob of the file made durable at once
                sink, layout, manifest = self._store_bytes(name, spool, size, digest)
                row = {
                    "filename": name.filename, "project": name.project, "version": name.version,
                    "kind": name.kind, "tags": " ".join(name.tags), "size": size, "blake3": digest.hex,
                    "sha256": hasher.sha256(), "layout": layout, "manifest": manifest, "origin": origin,
                    "added": added,
                }
                record = self.write_file_record(row)  # the catalog can be re-derived from blobs
                sink.add(*record)
        with self.catalog.write():
            again = self.catalog.file(name.filename)
            if again is not None and again.get("state") == "evicted":
                self._same_or_conflict(again, digest)
                if (again["added"], again["origin"]) != (row["added"], row["origin"]):  # evicted meanwhile
                    del sink.blobs[record[0]]
                    sink.add(*self.write_file_record({**again, "layout": layout, "manifest": manifest,
                                                      "state": "present"}))
                return self._revive(again, sink, layout, manifest)
            if again is not None:  # a concurrent put of the same file won: our record is nobody's
                self.objects.delete(record[0])
                return self._same_or_conflict(again, digest)
            try:
                self._check_spelling(name)  # again under the write lock: a concurrent put of another spelling
            except SameDistribution:
                self.objects.delete(record[0])
                raise
            self._attach(name.filename, sink)
            row["stored_size"] = sum(st for _, st in sink.blobs.values())
            self.catalog.insert_file(row)
            self.ensure_present(list(sink.blobs))
        return FileInfo.from_row(row)

    def _store_bytes(self, name: DistName, spool: BinaryIO, size: int,
                     digest: Digest) -> tuple[BlobSink, str, str | None]:
        """Write the spooled file's blobs (split into a recipe when possible); nothing is referenced yet."""
        sink = BlobSink(self, self._member_level)
        tmp = str(self.objects.tmp) if isinstance(self.objects, DiskObjects) else None
        recipe = split_file(name, spool, size, sink, recreate=self.tier == "compact", tmp_dir=tmp)
        if recipe is None:
            spool.seek(0)
            written = self.write_blob(chunks(spool), size)
            if written.digest != digest:
                raise ChecksumMismatch(name.filename, str(digest), str(written.digest))
            sink.add(written.digest, written.size, written.stored_size)
            return sink, "blob", None
        data = _recipe.encode(recipe)
        written = self.write_blob(iter([data]), len(data), level=19)
        sink.add(written.digest, written.size, written.stored_size)
        return sink, "recipe", written.digest.hex

    def _revive(self, row: dict[str, object], sink: BlobSink, layout: str, manifest: str | None) -> FileInfo:
        """Give an evicted file's row its bytes back (inside the caller's write transaction)."""
        filename = str(row["filename"])
        self.catalog.drop_refs(_file_owner(filename))  # the 'evicted' record; the new one is in sink
        self._attach(filename, sink)
        stored = sum(st for _, st in sink.blobs.values())
        self.catalog.set_file(filename, state="present", layout=layout, manifest=manifest, stored_size=stored)
        self.ensure_present(list(sink.blobs))
        return FileInfo.from_row({**row, "state": "present", "layout": layout, "manifest": manifest,
                                  "stored_size": stored})

    def _attach(self, filename: str, sink: BlobSink) -> None:
        self.catalog.attach(_file_owner(filename), [(d.hex, size, st) for d, (size, st) in sink.blobs.items()])

    @contextlib.contextmanager
    def _spool(self) -> Iterator[BinaryIO]:
        tmp = self.objects.tmp if isinstance(self.objects, DiskObjects) else None
        with tempfile.TemporaryFile(prefix="spool-", dir=tmp) as f:
            yield f

    @staticmethod
    def _same_or_conflict(row: dict[str, object], digest: Digest) -> FileInfo:
        if row["blake3"] != digest.hex:
            raise FileConflict(str(row["filename"]), f"blake3:{row['blake3']}", str(digest))
        return FileInfo.from_row(row)

    def _row(self, ref: Ref) -> dict[str, object]:
        if isinstance(ref, Digest) or Digest.looks_like(ref):
            digest = ref if isinstance(ref, Digest) else Digest.parse(ref)
            rows = self.catalog.files_by_digest(digest.hex)
            if not rows:
                raise NotFound(f"file with digest {digest}")
            return rows[0]
        row = self.catalog.file(ref)
        if row is None:
            raise NotFound(f"file {ref!r}")
        return row

    def info(self, ref: Ref) -> FileInfo:
        return FileInfo.from_row(self._row(ref))

    def has(self, ref: Ref) -> bool:
        try:
            self._row(ref)
        except NotFound:
            return False
        return True

    def revive(self, ref: Ref) -> FileInfo:
        """A file's info, after bringing its bytes back through the :attr:`reviver` if it was evicted
        (a cache miss). :class:`Evicted` when it is evicted and no reviver is set."""
        info = self.info(ref)
        if info.state != "evicted":
            return info
        if self.reviver is None:
            raise Evicted(info.filename, "no reviver is set (casstore.open_store sets a WheelCache)")
        self.reviver.revive(self, info)
        return self.info(info.filename)

    def open(self, ref: Ref) -> io.BufferedReader:
        """Stream a file's original bytes. The read raises :class:`ChecksumMismatch` at the end if
        the bytes are not the ones stored; use :meth:`export` when nothing unverified may escape."""
        for attempt in range(4):  # an eviction racing this read: bring the file back again
            info = self.revive(ref)
            if info.layout != "recipe":
                break
            try:
                return open_recipe(self.objects, self.catalog, info)
            except Evicted:
                if attempt == 3:
                    raise
        if info.layout != "blob":
            raise StoreFormatError(str(self.root), f"unknown layout {info.layout!r} for {info.filename!r}")
        try:
            raw = self.objects.open(info.blake3)
        except NotFound:
            raise NotFound(f"blob {info.blake3} of {info.filename!r} (missing from the object store)") from None
        return verified(_compress.decompressing_reader(raw), info.blake3, info.filename, info.size)

    def get(self, ref: Ref) -> bytes:
        with self.open(ref) as f:
            data = f.read()
        return data

    def export(self, ref: Ref, dest: str | os.PathLike[str]) -> FileInfo:
        """Write a file to ``dest`` atomically; ``dest`` only ever holds verified bytes."""
        info = self.info(ref)
        target = Path(dest)
        if target.is_dir():
            target = target / info.filename
        with self.open(info.filename) as src, atomic_writer(target) as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
        return info

    def ls(self, project: str | None = None, version: str | None = None, kind: str | None = None) -> list[FileInfo]:
        proj = normalize_project(project) if project else None
        return [FileInfo.from_row(r) for r in self.catalog.files(proj, version, kind)]

    def rm(self, ref: Ref) -> FileInfo:
        """Remove a file from the catalog; its blobs go at the next gc unless others hold them."""
        info = self.info(ref)
        held = self.catalog.blobs_of(_file_owner(info.filename))
        with self.catalog.write():
            self.catalog.delete_file(info.filename)
            self.catalog.drop_refs(_file_owner(info.filename))
        self._forget_records(held)  # a catalog recovery must not bring the file back
        return info

    def _forget_records(self, digests: Iterable[str]) -> None:
        """After an ``rm`` committed: delete the file's record blobs nobody holds any more, so that a
        catalog recovery does not bring the removed file back. (Record blobs are unique to one put, so no
        concurrent put can be claiming them.)"""
        for hexd in digests:
            row = self.catalog.blob(hexd)
            if row is None or row["size"] > MAX_RECORD or self.catalog.is_referenced(hexd):
                continue
            d = Digest(hexd)
            try:
                with self.open_blob(d) as f:
                    head = f.read(len(RECORD_MAGIC))
            except (CasstoreError, _compress.ZstdError):
                continue
            if head == RECORD_MAGIC:
                with self.catalog.write():
                    if not self.catalog.is_referenced(hexd):
                        self.objects.delete(d)
                        self.catalog.delete_blob_row(hexd)

    # -- file records, restoring and releasing bytes (used by maintenance and the wheel cache) --

    def write_file_record(self, row: dict[str, Any]) -> tuple[Digest, int, int]:
        """Write the file record blob of catalog ``row`` (see :mod:`casstore.format.filerecord`);
        returns (digest, size, stored size). The caller references it."""
        data = file_record(row)
        w = self.write_blob(iter([data]), len(data))
        return w.digest, w.size, w.stored_size

    def add_file_record(self, filename: str, row: dict[str, Any], *, replacing: Sequence[str] = ()) -> bool:
        """Give ``filename`` a new record blob written from ``row``, dropping its references to the
        blobs in ``replacing``; False (nothing kept) when the file was removed meanwhile."""
        with self.lease():
            digest, size, stored = self.write_file_record(row)
            with self.catalog.write():
                if self.catalog.file(filename) is None:
                    self.objects.delete(digest)
                    return False
                for hexd in replacing:
                    self.catalog.drop_ref(_file_owner(filename), hexd)
                self.catalog.add_blob(digest.hex, size, stored)
                self.catalog.add_ref(_file_owner(filename), digest.hex)
                self.ensure_present([digest])
        return True

    def restore(self, filename: str, source: str | os.PathLike[str]) -> FileInfo:
        """Store the bytes of a catalogued file again (new blobs, recipe and record for its row), e.g.
        after damage or to bring an evicted file back. The bytes must have the recorded digest."""
        row = self.catalog.file(filename)
        if row is None:
            raise NotFound(f"file {filename!r}")
        name = parse_filename(filename)
        with self.lease(), open(source, "rb") as spool:  # no gc takes the new blobs before the commit
            with self.objects.batch():
                sink, layout, manifest = self._store_bytes(name, spool, os.fstat(spool.fileno()).st_size,
                                                           Digest.parse(str(row["blake3"])))
                sink.add(*self.write_file_record({**row, "layout": layout, "manifest": manifest,
                                                  "state": "present"}))
            with self.catalog.write():
                self.catalog.drop_refs(_file_owner(filename))
                self._attach(filename, sink)
                stored = sum(st for _, st in sink.blobs.values())
                self.catalog.set_file(filename, layout=layout, manifest=manifest, state="present",
                                      stored_size=stored)
                self.ensure_present(list(sink.blobs))
        return FileInfo.from_row({**row, "layout": layout, "manifest": manifest, "state": "present",
                                  "stored_size": stored})

    def release(self, filename: str, *, recipe_digest: str | None) -> bool:
        """Drop a present file's bytes but keep its row, digests and ``recipe_digest`` (the file is
        then *evicted*: a read goes to the :attr:`reviver`). The blobs only it held go at the next gc.
        Whether a file may be released is not decided here (see :mod:`casstore.cache`). False when the
        file is not present (any more)."""
        with self.catalog.write():
            row = self.catalog.file(filename)
            if row is None or row.get("state") != "present":
                return False
            self.catalog.drop_refs(_file_owner(filename))
            self.catalog.set_file(filename, state="evicted", recipe_digest=recipe_digest, stored_size=0,
                                  manifest=None)
            # Written inside the transaction: a gc cannot take it before the ref commits.
            rec, size, stored = self.write_file_record(
                {**row, "state": "evicted", "recipe_digest": recipe_digest, "manifest": None})
            self.catalog.add_blob(rec.hex, size, stored)
            self.catalog.add_ref(_file_owner(filename), rec.hex)
        return True

    def mark_unrecoverable(self, filename: str, reason: str) -> None:
        """Record that ``filename``'s bytes could not be brought back (kept in its row)."""
        with self.catalog.write():
            self.catalog.set_file(filename, unrecoverable=reason[:500])

    # -- rebuild records and download counts (data other tools write into the catalog) ---------

    def record_rebuild(self, record: dict[str, Any]) -> Digest:
        """Keep a rebuild record (JSON-able dict, schema ``casstore.verification/1``); returns the
        digest of its JSON blob."""
        row = index_fields(record)
        data = json.dumps(record, sort_keys=True, indent=2).encode()
        rid = f"{row['recipe_digest']}@{row['started']}"
        with self.catalog.write():  # one transaction: a crash leaves no pinned record without its row
            digest = self.put_blob(data, ref=f"record:{rid}")
            self.catalog.add_rebuild({"id": rid, **row, "record": str(digest)})
        return digest

    def rebuild_records(self, sdist: str | None = None, target: str | None = None,
                        recipe_digest: str | None = None) -> list[dict[str, Any]]:
        """The full JSON records, oldest first, optionally for one sdist / target / recipe."""
        rows = self.catalog.rebuilds(sdist, target, recipe_digest)
        return [json.loads(self.get_blob(Digest.parse(r["record"]))) for r in rows]

    def count_downloads(self, counts: dict[str, int], when: float) -> None:
        with self.catalog.write():
            self.catalog.add_downloads(counts, when)

    def downloads(self) -> dict[str, int]:
        return self.catalog.downloads()

    # -- maintenance --------------------------------------------------------------------------

    def gc(self, grace: float = DEFAULT_GRACE) -> GcReport:
        """Delete blobs nothing references and that are older than ``grace`` seconds."""
        report = GcReport()
        cutoff = self._clock() - grace
        report.temp_removed = self.objects.clean_temp(cutoff)
        referenced = self.catalog.referenced_digests()
        for key in list(self.objects.keys()):
            if key.hex in referenced:
                continue
            try:
                st = self.objects.stat(key)
            except NotFound:
                continue
            if st.mtime > cutoff:
                report.kept_young += 1
                continue
            with self.catalog.write():
                # Re-check under the write lock: a put that claimed the blob has committed by now.
                try:
                    if self.catalog.is_referenced(key.hex) or self._young(self.objects.stat(key).mtime, cutoff):
                        continue
                except NotFound:  # another gc took it first
                    continue
                self.objects.delete(key)
                self.catalog.delete_blob_row(key.hex)
            report.removed.append(str(key))
            report.freed_bytes += st.size
        with self.catalog.write():
            for row in self.catalog.blobs():
                if row["digest"] not in referenced and not self.objects.exists(Digest(row["digest"])):
                    if not self.catalog.is_referenced(row["digest"]):
                        self.catalog.delete_blob_row(row["digest"])
        return report

    def lease(self) -> contextlib.AbstractContextManager[None]:
        """While held, no gc of this store (any process) collects blobs written since it began."""
        lease = getattr(self.objects, "lease", None)
        return lease() if lease is not None else contextlib.nullcontext()

    def _young(self, mtime: float, cutoff: float) -> bool:
        """Inside the grace period, or written after a put still in flight began (its lease)."""
        if mtime > cutoff:
            return True
        oldest = getattr(self.objects, "oldest_lease", lambda: None)()
        return oldest is not None and mtime >= oldest - 1.0  # 1 s: file times lag the clock a little

    def stats(self) -> Stats:
        totals = self.catalog.totals()
        projects = tuple(
            sorted(
                (ProjectStats(r["project"], r["files"], r["raw"], r["stored"])
                 for r in self.catalog.project_totals()),
                key=lambda p: (-p.raw_bytes, p.project),
            )
        )
        return Stats(totals["files"], totals["sdists"], totals["wheels"], totals["raw"], totals["stored"], projects)


def _file_owner(filename: str) -> str:
    return f"file:{filename}"
