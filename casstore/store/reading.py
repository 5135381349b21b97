"""Reading a file stored as a recipe: its manifest, then its blobs, each verified as it is read.

For object stores where every read is a round trip (S3), a recipe's blobs are fetched at once,
several requests in flight, when they fit in ``PREFETCH_BYTES``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

from ..catalog import BaseCatalog
from ..digest import Digest
from ..errors import Evicted, NotFound
from ..format import compress as _compress
from ..format import recipe as _recipe
from ..format.reader import verified
from ..model import FileInfo
from ..objects import ObjectStore

__all__ = ["PREFETCH_BYTES", "PREFETCH_REQUESTS", "open_recipe"]

PREFETCH_BYTES = 64 << 20  # a recipe's blobs fetched at once from a latency-bound object store
PREFETCH_REQUESTS = 16


def open_recipe(objects: ObjectStore, catalog: BaseCatalog, info: FileInfo) -> io.BufferedReader:
    """Stream the original bytes of ``info`` (layout ``recipe``), verified against its digest.
    :class:`Evicted` if the file was evicted since ``info`` was read (the caller may revive it again)."""
    row = catalog.file(info.filename)
    if row is None:
        raise NotFound(f"file {info.filename!r}")
    if row["manifest"] is None:
        raise Evicted(info.filename, "it was evicted while being opened")
    manifest = Digest(str(row["manifest"]))
    name = info.filename

    def read_blob(digest: Digest) -> BinaryIO:
        try:
            raw = objects.open(digest)
        except NotFound:
            raise NotFound(f"blob {digest} of {name!r} (missing from the object store)") from None
        return verified(_compress.decompressing_reader(raw), digest, f"{name!r} (blob {digest})")

    with read_blob(manifest) as f:
        recipe = _recipe.decode(f.read())
    open_blob: Callable[[Digest], BinaryIO] = read_blob
    if getattr(objects, "latency_bound", False):
        open_blob = _prefetched(objects, recipe, name, read_blob)
    return verified(_recipe.IterReader(_recipe.render(recipe, open_blob)),  # type: ignore[arg-type]
                    info.blake3, name, info.size)


def _prefetched(objects: ObjectStore, recipe: _recipe.Recipe, name: str,
                open_blob: Callable[[Digest], BinaryIO]) -> Callable[[Digest], BinaryIO]:
    """Fetch a recipe's blobs at once, several requests in flight, when their bytes fit in
    ``PREFETCH_BYTES`` (the recipe's own blob sizes bound them: blobs are stored compressed); each is
    still verified when it is read. Larger recipes stream blob by blob."""
    sizes = recipe.ref_sizes()
    if sum(sizes.values()) > PREFETCH_BYTES:
        return open_blob
    digests = list(sizes)

    def fetch(digest: Digest) -> bytes | None:
        try:
            with objects.open(digest) as raw:
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
