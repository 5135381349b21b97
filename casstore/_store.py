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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from . import _compress, _recipe, _repair
from ._catalog import BaseCatalog, Catalog, open_catalog
from ._digest import CHUNK, Digest, Hasher
from ._errors import (
    CasstoreError,
    ChecksumMismatch,
    FileConflict,
    InvalidContent,
    NotFound,
    SameDistribution,
    StoreFormatError,
)
from ._eviction import EvictionMixin
from ._fsutil import atomic_write_bytes, atomic_writer
from ._model import FileInfo, FsckReport, GcReport, ProjectStats, Stats
from ._names import DistName, parse_filename, same_distribution
from ._objects import DiskObjects, MemoryObjects, ObjectStore
from ._reader import verified
from ._reconstruct import Rebuilder, SingleFlight
from ._records import RecordsMixin
from ._split import NotSplittable, Splitter

__all__ = ["DEFAULT_GRACE", "FORMAT_VERSION", "Store"]

FORMAT_VERSION = 2  # 1: every file one blob; 2: files may be recipes (docs/format.md)
MEMBER_LEVEL = 9  # zstd level for decompressed archive members (measured in docs/format.md)
TIERS = ("compact", "fast")
PREFETCH_BYTES = 64 << 20  # a recipe's blobs fetched at once from a latency-bound object store
PREFETCH_REQUESTS = 16
DEFAULT_GRACE = 3600.0  # seconds an unreferenced blob is kept, so concurrent puts can claim it
_MARKER = "casstore.json"

Source = str | os.PathLike[str] | BinaryIO
Ref = str | Digest


@dataclass(frozen=True, slots=True)
class _Written:
    digest: Digest
    sha256: str
    size: int
    stored_size: int
    new: bool


def _check_magic(name: DistName, head: bytes) -> None:
    if name.kind == "wheel" or name.filename.endswith(".zip"):
        if not head.startswith(b"PK\x03\x04"):
            raise InvalidContent(name.filename, "not a zip archive (no local file header at offset 0)")
    elif name.filename.endswith(".tar.gz") and not head.startswith(b"\x1f\x8b"):
        raise InvalidContent(name.filename, "not gzip-compressed (bad magic)")


class Store(RecordsMixin, EvictionMixin):
    """A casstore store. Open one with :func:`casstore.open_store` (a directory, ``s3://`` with a
    catalog URL, or ``memory://``), :meth:`directory` or :meth:`memory`."""

    def __init__(self, objects: ObjectStore, catalog: BaseCatalog, *, clock: Callable[[], float] = time.time,
                 level: int = _compress.DEFAULT_LEVEL, root: Path | None = None, tier: str = "compact",
                 member_level: int = MEMBER_LEVEL, rebuilder: Rebuilder | None = None,
                 sources: Sequence[str] = (), workdir: Path | None = None) -> None:
        """``rebuilder`` and ``sources`` (secondary caches, simple-index URLs) bring evicted wheels
        back; ``workdir`` is where reconstructions run (default: the store's temp directory)."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}, expected one of {TIERS}")
        self.objects = objects
        self.catalog = catalog
        self.root = root
        self.tier = tier
        self._clock = clock
        self._level = level
        self._member_level = member_level
        self.rebuilder = rebuilder
        self.sources = tuple(sources)
        self._workdir = workdir
        self._flight = SingleFlight(_locks_dir(self.root) if isinstance(self.objects, DiskObjects) else None)

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def directory(cls, path: str | os.PathLike[str], *, create: bool = True,
                  catalog: str | os.PathLike[str] | None = None, **kw: object) -> Store:
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
            return cls(DiskObjects(root), open_catalog(catalog), root=root, **kw)  # type: ignore[arg-type]
        catalog = root / "catalog.sqlite"
        if marker.exists() and not catalog.exists() and any((root / "objects").glob("*/*")):
            # A fresh empty catalog would make every blob garbage: refuse, and say how to rebuild it.
            raise StoreFormatError(str(catalog), "the catalog is missing but objects/ holds blobs; "
                                   "run 'casstore fsck --repair' to rebuild it from the blobs")
        return cls(DiskObjects(root), Catalog.open(catalog), root=root, **kw)  # type: ignore[arg-type]

    @classmethod
    def memory(cls, **kw: object) -> Store:
        return cls(MemoryObjects(), Catalog.memory(), **kw)  # type: ignore[arg-type]

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

    def _write_blob(self, chunks: Iterable[bytes], size_hint: int = -1, level: int | None = None) -> _Written:
        hasher = Hasher()
        writer = self.objects.writer()
        try:
            comp = _compress.Compressor(writer, self._level if level is None else level,  # type: ignore[arg-type]
                                        size_hint)
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
            raise _BlobVanished(digest) from None
        return _Written(digest, hasher.sha256(), hasher.size, stored, new)

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
        with self._lease(), _opened(source) as (stream, size):
            written = self._write_blob(_chunks(stream), size)
            with self.catalog.write():
                self.catalog.add_blob(written.digest.hex, written.size, written.stored_size)
                if ref is not None:
                    self.catalog.add_ref(ref, written.digest.hex)
                self._ensure_present([written.digest])
        return written.digest

    def pin(self, ref: str, digest: Digest) -> None:
        with self.catalog.write():
            if self.catalog.blob(digest.hex) is None:
                raise NotFound(f"blob {digest}")
            self.catalog.add_ref(ref, digest.hex)

    def unpin(self, ref: str) -> int:
        with self.catalog.write():
            return self.catalog.drop_refs(ref)

    def _ensure_present(self, digests: list[Digest]) -> None:
        for d in digests:
            if not self.objects.exists(d):  # a gc removed it between our write and this transaction
                raise _BlobVanished(d)

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
                with self._lease():  # no gc takes what this put writes before it commits
                    return self._put_once(source, name, origin)
            except _BlobVanished:
                if attempt == 2 or not isinstance(source, (str, os.PathLike)) and not _seekable(source):
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
        with _opened(source) as (stream, _size), self._spool() as spool:
            head = stream.read(CHUNK)
            _check_magic(name, head)
            hasher = Hasher()
            for chunk in _prepend(head, stream):  # spool while hashing: one pass over the input
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
                record = _repair.write_record(self, row)  # the catalog can be re-derived from blobs
                sink.add(*record)
        with self.catalog.write():
            again = self.catalog.file(name.filename)
            if again is not None and again.get("state") == "evicted":
                self._same_or_conflict(again, digest)
                if (again["added"], again["origin"]) != (row["added"], row["origin"]):  # evicted meanwhile
                    del sink.blobs[record[0]]
                    sink.add(*_repair.write_record(self, {**again, "layout": layout, "manifest": manifest,
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
            self._ensure_present(list(sink.blobs))
        return FileInfo.from_row(row)

    def _store_bytes(self, name: DistName, spool: BinaryIO, size: int,
                     digest: Digest) -> tuple[_BlobSink, str, str | None]:
        """Write the spooled file's blobs (split into a recipe when possible); nothing is referenced yet."""
        sink = _BlobSink(self)
        recipe = self._split(name, spool, size, sink)
        if recipe is None:
            spool.seek(0)
            written = self._write_blob(_chunks(spool), size)
            if written.digest != digest:
                raise ChecksumMismatch(name.filename, str(digest), str(written.digest))
            sink.add(written.digest, written.size, written.stored_size)
            return sink, "blob", None
        data = _recipe.encode(recipe)
        written = self._write_blob(iter([data]), len(data), level=19)
        sink.add(written.digest, written.size, written.stored_size)
        return sink, "recipe", written.digest.hex

    def _revive(self, row: dict[str, object], sink: _BlobSink, layout: str, manifest: str | None) -> FileInfo:
        """Give an evicted file's row its bytes back (inside the caller's write transaction)."""
        filename = str(row["filename"])
        self.catalog.drop_refs(_file_owner(filename))  # the 'evicted' record; the new one is in sink
        self._attach(filename, sink)
        stored = sum(st for _, st in sink.blobs.values())
        self.catalog.set_file(filename, state="present", layout=layout, manifest=manifest, stored_size=stored)
        self._ensure_present(list(sink.blobs))
        return FileInfo.from_row({**row, "state": "present", "layout": layout, "manifest": manifest,
                                  "stored_size": stored})

    def _attach(self, filename: str, sink: _BlobSink) -> None:
        self.catalog.attach(_file_owner(filename), [(d.hex, size, st) for d, (size, st) in sink.blobs.items()])

    @contextlib.contextmanager
    def _spool(self) -> Iterator[BinaryIO]:
        tmp = self.objects.tmp if isinstance(self.objects, DiskObjects) else None
        with tempfile.TemporaryFile(prefix="spool-", dir=tmp) as f:
            yield f  # type: ignore[misc]

    def _split(self, name: DistName, spool: BinaryIO, size: int, sink: _BlobSink) -> _recipe.Recipe | None:
        """The file as a recipe, or None when it is stored whole (not an archive we split, or odd)."""
        tmp = str(self.objects.tmp) if isinstance(self.objects, DiskObjects) else None
        splitter = Splitter(sink, recreate=self.tier == "compact", tmp_dir=tmp)
        fn = name.filename.lower()
        try:
            if fn.endswith((".whl", ".zip")):
                segs = splitter.split_zip(spool, size)
            elif fn.endswith((".tar.gz", ".tgz")):
                segs = splitter.split_targz(spool, size)
            else:
                return None
        except NotSplittable:
            sink.discard()
            return None
        return _recipe.Recipe(size, segs)

    @staticmethod
    def _same_or_conflict(row: dict[str, object], digest: Digest) -> FileInfo:
        if row["blake3"] != digest.hex:
            raise FileConflict(str(row["filename"]), f"blake3:{row['blake3']}", str(digest))
        return FileInfo.from_row(row)  # type: ignore[arg-type]

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
        return FileInfo.from_row(self._row(ref))  # type: ignore[arg-type]

    def has(self, ref: Ref) -> bool:
        try:
            self._row(ref)
        except NotFound:
            return False
        return True

    def open(self, ref: Ref) -> io.BufferedReader:
        """Stream a file's original bytes. The read raises :class:`ChecksumMismatch` at the end if
        the bytes are not the ones stored; use :meth:`export` when nothing unverified may escape."""
        info = self.info(ref)
        if info.state == "evicted":  # a cache miss: secondary caches, then a rebuild, verified
            self.reconstruct(info.filename)
            info = self.info(info.filename)
        if info.layout == "recipe":
            return self._open_recipe(info)
        if info.layout != "blob":
            raise StoreFormatError(str(self.root), f"unknown layout {info.layout!r} for {info.filename!r}")
        try:
            raw = self.objects.open(info.blake3)
        except NotFound:
            raise NotFound(f"blob {info.blake3} of {info.filename!r} (missing from the object store)") from None
        return verified(_compress.decompressing_reader(raw), info.blake3, info.filename, info.size)

    def _open_recipe(self, info: FileInfo) -> io.BufferedReader:
        row = self.catalog.file(info.filename)
        manifest = Digest(str(row["manifest"])) if row else None
        if manifest is None:
            raise NotFound(f"file {info.filename!r}")
        name = info.filename

        def open_blob(digest: Digest) -> BinaryIO:
            try:
                raw = self.objects.open(digest)
            except NotFound:
                raise NotFound(f"blob {digest} of {name!r} (missing from the object store)") from None
            return verified(_compress.decompressing_reader(raw), digest, f"{name!r} (blob {digest})")

        with open_blob(manifest) as f:
            recipe = _recipe.decode(f.read())
        if getattr(self.objects, "latency_bound", False):
            open_blob = self._prefetched(recipe, name, open_blob)
        return verified(_recipe.IterReader(_recipe.render(recipe, open_blob)),  # type: ignore[arg-type]
                        info.blake3, name, info.size)

    def _prefetched(self, recipe: _recipe.Recipe, name: str,
                    open_blob: Callable[[Digest], BinaryIO]) -> Callable[[Digest], BinaryIO]:
        """For object stores where each read is a round trip (S3): fetch a recipe's blobs at once,
        several requests in flight, when their bytes fit in ``PREFETCH_BYTES`` (the recipe's own blob
        sizes bound them: blobs are stored compressed); each is still verified when it is read. Larger
        recipes stream blob by blob."""
        sizes = recipe.ref_sizes()
        if sum(sizes.values()) > PREFETCH_BYTES:
            return open_blob
        digests = list(sizes)

        def fetch(digest: Digest) -> bytes | None:
            try:
                with self.objects.open(digest) as raw:
                    return raw.read()
            except NotFound:
                return None  # reported by open_blob when the recipe reaches it

        with ThreadPoolExecutor(PREFETCH_REQUESTS, thread_name_prefix="casstore-prefetch") as pool:
            fetched = dict(zip(digests, pool.map(fetch, digests), strict=True))

        def prefetched(digest: Digest) -> BinaryIO:
            data = fetched.get(digest)
            if data is None:
                return open_blob(digest)
            return verified(_compress.decompressing_reader(io.BytesIO(data)), digest, f"{name!r} (blob {digest})")

        return prefetched

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
        from ._names import normalize_project

        proj = normalize_project(project) if project else None
        return [FileInfo.from_row(r) for r in self.catalog.files(proj, version, kind)]

    def rm(self, ref: Ref) -> FileInfo:
        """Remove a file from the catalog; its blobs go at the next gc unless others hold them."""
        info = self.info(ref)
        held = self.catalog.blobs_of(_file_owner(info.filename))
        with self.catalog.write():
            self.catalog.delete_file(info.filename)
            self.catalog.drop_refs(_file_owner(info.filename))
        _repair.forget_records(self, held)  # a catalog recovery must not bring the file back
        return info

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

    def _lease(self) -> contextlib.AbstractContextManager[None]:
        lease = getattr(self.objects, "lease", None)
        return lease() if lease is not None else contextlib.nullcontext()

    def _young(self, mtime: float, cutoff: float) -> bool:
        """Inside the grace period, or written after a put still in flight began (its lease)."""
        if mtime > cutoff:
            return True
        oldest = getattr(self.objects, "oldest_lease", lambda: None)()
        return oldest is not None and mtime >= oldest - 1.0  # 1 s: file times lag the clock a little

    def fsck(self, progress: Callable[[int], None] | None = None, *, repair: bool = False,
             mirrors: Sequence[object] = ()) -> FsckReport:
        """Re-hash every object; report corrupt, missing and unreferenced ones and the files they break,
        and what SQLite finds wrong with the catalog.

        ``repair`` moves corrupt objects aside (``quarantine/``) and restores bad blobs from ``mirrors``
        (other stores, or store paths, by digest; simple-index URLs, by file), every byte verified;
        the report is then that of a second pass, with ``repaired`` and ``quarantined`` filled in. A lost
        or unreadable catalog is rebuilt by :func:`casstore.recover_catalog` (``fsck --repair``)."""
        report = self._fsck_pass(progress)
        if repair and (report.corrupt or report.missing):
            repaired, quarantined = _repair.repair_blobs(
                self, [d for d, _ in report.corrupt], report.missing, report.damaged_files, mirrors)
            report = self._fsck_pass(progress)
            report.repaired, report.quarantined = repaired, quarantined
        if repair:  # files stored before file records existed get one (docs/operations.md)
            report.repaired += [f"record of {f} written" for f in _repair.backfill_records(self)]
        return report

    def _fsck_pass(self, progress: Callable[[int], None] | None) -> FsckReport:
        report = FsckReport(catalog_problems=_repair.catalog_problems(self))
        referenced = self.catalog.referenced_digests()
        present: set[str] = set()
        bad: set[str] = set()
        for key in self.objects.keys():
            present.add(key.hex)
            report.objects_checked += 1
            try:
                with self.open_blob(key) as f:
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
            for owner in self.catalog.owners_of(digest):
                if owner.startswith("file:"):
                    damaged.add(owner[5:])
        report.damaged_files = sorted(damaged)
        if isinstance(self.objects, DiskObjects):
            report.temp_files = sum(1 for _ in self.objects.tmp.iterdir())
        return report

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


class _BlobSink:
    """Where a :class:`Splitter` puts blobs during one put: writes each distinct blob once."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.blobs: dict[Digest, tuple[int, int]] = {}  # digest -> (size, stored size)

    def add(self, digest: Digest, size: int, stored: int) -> None:
        self.blobs[digest] = (size, stored)

    def store(self, chunks: Callable[[], Iterable[bytes]], digest: Digest, size: int,
              compressible: bool) -> _recipe.Ref:
        if digest not in self.blobs:
            store = self._store
            row = store.catalog.blob(digest.hex)
            if row is not None and store.objects.exists(digest):
                self.blobs[digest] = (row["size"], row["stored_size"])
            else:
                level = store._member_level if compressible and store.tier == "compact" else store._level
                written = store._write_blob(chunks(), size, level)
                if written.digest != digest or written.size != size:
                    raise ChecksumMismatch(f"member blob {digest}", str(digest), str(written.digest))
                self.blobs[digest] = (written.size, written.stored_size)
        return _recipe.Ref(digest, size)

    def discard(self) -> None:
        """Forget blobs of an abandoned split (unreferenced, they go at the next gc)."""
        self.blobs.clear()


def _locks_dir(root: Path | None) -> Path | None:
    """Lock files live apart from tmp/: gc must never delete a lock another process holds."""
    if root is None:
        return None
    path = root / "locks"
    path.mkdir(exist_ok=True)
    return path


class _BlobVanished(CasstoreError):
    def __init__(self, digest: Digest) -> None:
        super().__init__(f"blob {digest} vanished during put")


def _file_owner(filename: str) -> str:
    return f"file:{filename}"


def _seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, OSError):
        return False


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def _prepend(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    if head:
        yield head
    yield from _chunks(stream)


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[tuple[BinaryIO, int]]:
    if isinstance(source, (str, os.PathLike)):
        try:
            f = open(source, "rb")
        except OSError as e:
            raise CasstoreError(f"Cannot read {os.fspath(source)!r}: {e.strerror}") from e
        with f:
            yield f, os.fstat(f.fileno()).st_size
    else:
        yield source, -1
