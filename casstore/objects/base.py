"""The object-store interface: where compressed blob bytes live, keyed by digest.

An object store knows nothing of compression or hashing; it stores opaque bytes under a
:class:`Digest` and guarantees that an object is either absent or complete. Implementations:
:class:`~casstore.objects.disk.DiskObjects` (the embedded default), :class:`~casstore.objects.memory.MemoryObjects`
and :class:`~casstore.objects.s3.S3Objects`; one contract test suite runs against all of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from ..digest import Digest

__all__ = ["ObjectStat", "ObjectStore", "ObjectWriter"]


@dataclass(frozen=True, slots=True)
class ObjectStat:
    size: int
    mtime: float


class ObjectWriter(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self, key: Digest) -> bool:
        """Make the written bytes visible under ``key``; False when ``key`` already existed."""
        ...

    def abort(self) -> None: ...


class ObjectStore(Protocol):
    def exists(self, key: Digest) -> bool: ...

    def writer(self) -> ObjectWriter: ...

    def open(self, key: Digest) -> BinaryIO: ...

    def stat(self, key: Digest) -> ObjectStat: ...

    def delete(self, key: Digest) -> bool: ...

    def keys(self) -> Iterator[Digest]: ...

    def clean_temp(self, older_than: float) -> int: ...

    def describe(self, key: Digest) -> str: ...

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Writes inside become visible (and durable) together at the end of the block."""
        ...
