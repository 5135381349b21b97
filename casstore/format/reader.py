"""A reader that hashes what it hands out and fails at the end if the digest is wrong."""

from __future__ import annotations

import io
from typing import BinaryIO

import blake3

from ..digest import Digest
from ..errors import ChecksumMismatch
from .compress import ZstdError

__all__ = ["VerifyingReader", "verified"]


class VerifyingReader(io.RawIOBase):
    """Stream ``source`` through; raise :class:`ChecksumMismatch` instead of a clean EOF if the
    bytes do not hash to ``expected`` (or are longer than ``size``)."""

    def __init__(self, source: BinaryIO, expected: Digest, name: str, size: int | None = None) -> None:
        self._source = source
        self._expected = expected
        self._name = name
        self._size = size
        self._hasher = blake3.blake3()
        self._seen = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            data = self._source.read(len(buffer))
        except ZstdError as e:  # a damaged object: the same clear error as a wrong digest, naming the file
            raise ChecksumMismatch(self._name, str(self._expected), f"an undecodable zstd stream ({e})") from e
        if data:
            self._hasher.update(data)
            self._seen += len(data)
            if self._size is not None and self._seen > self._size:
                raise ChecksumMismatch(self._name, str(self._expected), f"more than {self._size} bytes")
            buffer[: len(data)] = data
            return len(data)
        if not self._checked:
            actual = Digest(self._hasher.hexdigest())
            if actual != self._expected:
                raise ChecksumMismatch(self._name, str(self._expected), str(actual))
            self._checked = True
        return 0

    def close(self) -> None:
        try:
            self._source.close()
        finally:
            super().close()


def verified(source: BinaryIO, expected: Digest, name: str, size: int | None = None) -> io.BufferedReader:
    return io.BufferedReader(VerifyingReader(source, expected, name, size), buffer_size=1 << 20)
