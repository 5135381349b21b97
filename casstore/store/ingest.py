"""Putting a file: the input spooled and hashed once, split into member blobs (or kept whole), each
distinct blob written once. Nothing here references a blob; :class:`casstore.Store` does that in one
catalog transaction.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from ..digest import CHUNK, Digest
from ..errors import CasstoreError, ChecksumMismatch, InvalidContent
from ..format import recipe as _recipe
from ..format.split import NotSplittable, Splitter
from ..names import DistName

if TYPE_CHECKING:
    from .store import Store

__all__ = ["BlobSink", "BlobVanished", "Source", "check_magic", "chunks", "opened", "prepend", "seekable",
           "split_file"]

Source = str | os.PathLike[str] | BinaryIO


def check_magic(name: DistName, head: bytes) -> None:
    if name.kind == "wheel" or name.filename.endswith(".zip"):
        if not head.startswith(b"PK\x03\x04"):
            raise InvalidContent(name.filename, "not a zip archive (no local file header at offset 0)")
    elif name.filename.endswith(".tar.gz") and not head.startswith(b"\x1f\x8b"):
        raise InvalidContent(name.filename, "not gzip-compressed (bad magic)")


def split_file(name: DistName, spool: BinaryIO, size: int, sink: BlobSink, *, recreate: bool,
               tmp_dir: str | None) -> _recipe.Recipe | None:
    """The file as a recipe, or None when it is stored whole (not an archive we split, or odd)."""
    splitter = Splitter(sink, recreate=recreate, tmp_dir=tmp_dir)
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


class BlobSink:
    """Where a :class:`Splitter` puts blobs during one put: writes each distinct blob once."""

    def __init__(self, store: Store, member_level: int) -> None:
        self._store = store
        self._member_level = member_level
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
                level = self._member_level if compressible and store.tier == "compact" else None
                written = store.write_blob(chunks(), size, level)
                if written.digest != digest or written.size != size:
                    raise ChecksumMismatch(f"member blob {digest}", str(digest), str(written.digest))
                self.blobs[digest] = (written.size, written.stored_size)
        return _recipe.Ref(digest, size)

    def discard(self) -> None:
        """Forget blobs of an abandoned split (unreferenced, they go at the next gc)."""
        self.blobs.clear()


class BlobVanished(CasstoreError):
    def __init__(self, digest: Digest) -> None:
        super().__init__(f"blob {digest} vanished during put")


def seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, OSError):
        return False


def chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def prepend(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    if head:
        yield head
    yield from chunks(stream)


@contextlib.contextmanager
def opened(source: Source) -> Iterator[tuple[BinaryIO, int]]:
    if isinstance(source, (str, os.PathLike)):
        try:
            f = open(source, "rb")
        except OSError as e:
            raise CasstoreError(f"Cannot read {os.fspath(source)!r}: {e.strerror}") from e
        with f:
            yield f, os.fstat(f.fileno()).st_size
    else:
        yield source, -1
