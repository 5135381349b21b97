"""File records: a small self-describing blob per stored file, so the catalog can be re-derived.

Every put writes one (``RECORD_MAGIC`` + JSON of the file's catalog row), held by the file's owner like
its other blobs; releasing a file's bytes (eviction) writes a new one saying ``evicted``. The newest
record of a filename (by its nanosecond stamp) wins when the catalog is rebuilt from the blobs
(:mod:`casstore.maintenance.recovery`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..digest import Digest
from ..errors import CasstoreError
from ..names import parse_filename

__all__ = ["MAX_RECORD", "RECORD_FIELDS", "RECORD_MAGIC", "file_record", "parse_file_record"]

RECORD_MAGIC = b"casstore-file-record/1\n"
RECORD_FIELDS = ("filename", "project", "version", "kind", "tags", "size", "blake3", "sha256", "layout",
                 "manifest", "origin", "added", "state", "recipe_digest")
MAX_RECORD = 1 << 16  # a blob larger than this is never a file record (they are a few hundred bytes)


def file_record(row: dict[str, Any]) -> bytes:
    """The record blob of a file row: magic line + JSON (sorted keys), with a nanosecond stamp so the
    newest record of a filename wins at recovery."""
    body = {k: row.get(k) for k in RECORD_FIELDS}
    body["state"] = body["state"] or "present"
    body["written"] = time.time_ns()
    return RECORD_MAGIC + json.dumps(body, sort_keys=True).encode()


def parse_file_record(data: bytes) -> dict[str, Any] | None:
    """The row a record blob holds, or None when ``data`` is not a valid file record."""
    if not data.startswith(RECORD_MAGIC):
        return None
    try:
        body = json.loads(data[len(RECORD_MAGIC):])
        parse_filename(str(body["filename"]))
        Digest.parse(str(body["blake3"]))
        return body if isinstance(body, dict) else None
    except (ValueError, KeyError, TypeError, CasstoreError):
        return None
