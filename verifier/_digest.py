"""File digests: sha256 and BLAKE3 in one streaming pass (blake3:<hex> like casstore's Digest)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import blake3

__all__ = ["file_digests"]


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256 hex, "blake3:<hex>") of the file at `path`."""
    sha, b3 = hashlib.sha256(), blake3.blake3()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            b3.update(chunk)
    return sha.hexdigest(), "blake3:" + b3.hexdigest()
