"""Objects in a dict: for tests and throw-away stores."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from typing import BinaryIO

from ..digest import Digest
from ..errors import NotFound
from .base import ObjectStat

__all__ = ["MemoryObjects"]


class _MemoryWriter:
    def __init__(self, store: MemoryObjects) -> None:
        self._store = store
        self._buf = io.BytesIO()

    def write(self, data: bytes | memoryview) -> None:
        self._buf.write(data)

    def commit(self, key: Digest) -> bool:
        with self._store.lock:
            if key in self._store.data:
                self._store.data[key] = (self._store.data[key][0], time.time())
                return False
            self._store.data[key] = (self._buf.getvalue(), time.time())
            return True

    def abort(self) -> None:
        self._buf = io.BytesIO()


class MemoryObjects:
    """Objects in a dict: for tests and throw-away stores."""

    def __init__(self) -> None:
        self.data: dict[Digest, tuple[bytes, float]] = {}
        self.lock = threading.Lock()

    def exists(self, key: Digest) -> bool:
        return key in self.data

    def writer(self) -> _MemoryWriter:
        return _MemoryWriter(self)

    def open(self, key: Digest) -> BinaryIO:
        try:
            return io.BytesIO(self.data[key][0])
        except KeyError:
            raise NotFound(f"object {key}") from None

    def stat(self, key: Digest) -> ObjectStat:
        try:
            data, mtime = self.data[key]
        except KeyError:
            raise NotFound(f"object {key}") from None
        return ObjectStat(len(data), mtime)

    def delete(self, key: Digest) -> bool:
        with self.lock:
            return self.data.pop(key, None) is not None

    def keys(self) -> Iterator[Digest]:
        yield from sorted(self.data)

    def clean_temp(self, older_than: float) -> int:
        return 0

    def describe(self, key: Digest) -> str:
        return f"memory:{key}"

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        yield
