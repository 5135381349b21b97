"""Digests: BLAKE3-256 of uncompressed bytes, written ``blake3:<64 hex>``; sha256 alongside."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

import blake3

from .errors import InvalidDigest

__all__ = ["CHUNK", "Digest", "Hasher", "hash_bytes", "hash_file"]

CHUNK = 1 << 20  # streaming unit everywhere: bounded memory for any file size
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A BLAKE3-256 digest. Validated on construction, so it is always safe as a path component."""

    hex: str
    algorithm: ClassVar[str] = "blake3"

    def __post_init__(self) -> None:
        if not isinstance(self.hex, str) or not _HEX64.fullmatch(self.hex):
            raise InvalidDigest(str(self.hex), "expected 64 lowercase hex characters")

    @classmethod
    def parse(cls, value: str) -> Digest:
        """Parse ``blake3:<hex>`` (or a bare 64-hex string)."""
        text = value.strip()
        if ":" in text:
            algo, _, hexpart = text.partition(":")
            if algo != cls.algorithm:
                raise InvalidDigest(value, f"unsupported algorithm {algo!r}, expected 'blake3'")
            text = hexpart
        if not _HEX64.fullmatch(text):
            raise InvalidDigest(value, "expected 'blake3:' and 64 lowercase hex characters")
        return cls(text)

    @classmethod
    def looks_like(cls, value: str) -> bool:
        return value.startswith("blake3:") or bool(_HEX64.fullmatch(value))

    def __str__(self) -> str:
        return f"blake3:{self.hex}"

    @property
    def short(self) -> str:
        return self.hex[:12]


class Hasher:
    """BLAKE3 and sha256 in one pass, plus a byte count."""

    def __init__(self) -> None:
        self._b3 = blake3.blake3(max_threads=blake3.blake3.AUTO)
        self._sha = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._b3.update(data)
        self._sha.update(data)
        self.size += len(data)

    def digest(self) -> Digest:
        return Digest(self._b3.hexdigest())

    def sha256(self) -> str:
        return self._sha.hexdigest()

    def consume(self, stream: BinaryIO) -> None:
        while chunk := stream.read(CHUNK):
            self.update(chunk)


def hash_bytes(data: bytes) -> Digest:
    return Digest(blake3.blake3(data).hexdigest())


def hash_file(path: str | os.PathLike[str]) -> Hasher:
    """BLAKE3, sha256 and size of the file at ``path``, in one streaming pass."""
    h = Hasher()
    with open(path, "rb") as f:
        h.consume(f)
    return h
