"""Rebuild records and download counts: data other tools write into the catalog.

A rebuild record is JSON (schema ``casstore.verification/1``, written by the verifier or any other
tool); the store keeps the JSON itself as a pinned blob and indexes a few fields in the ``rebuilds``
table. casstore reads only those fields and never imports the tool that wrote the record.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._digest import Digest
from ._errors import CasstoreError

if TYPE_CHECKING:
    from ._catalog import BaseCatalog

__all__ = ["RecordsMixin", "InvalidRecord"]


class InvalidRecord(CasstoreError, ValueError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Invalid rebuild record: {reason}")


def _index_fields(record: dict[str, Any]) -> dict[str, Any]:
    try:
        recipe = record["recipe"]
        builds = record.get("builds") or []
        wheel = next((b.get("wheel_blake3") for b in builds if b.get("wheel_blake3")), None)
        return {
            "sdist": str(recipe["sdist_filename"]),
            "sdist_blake3": str(recipe.get("sdist_blake3") or ""),
            "target": str(recipe["target"]),
            "recipe_digest": str(record["recipe_digest"]),
            "grade": str(record["grade"]),
            "wheel_blake3": wheel,
            "started": str(record["started"]),
            "seconds": float(record.get("seconds") or 0.0),
        }
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidRecord(f"missing or malformed field {e}") from e


class RecordsMixin:
    """Store methods for rebuild records and download counts (mixed into :class:`Store`)."""

    catalog: BaseCatalog

    def put_blob(self, source: Any, *, ref: str | None = None) -> Digest:  # provided by Store
        raise NotImplementedError

    def get_blob(self, digest: Digest) -> bytes:  # provided by Store
        raise NotImplementedError

    def record_rebuild(self, record: dict[str, Any]) -> Digest:
        """Keep a rebuild record (JSON-able dict); returns the digest of its JSON blob."""
        row = _index_fields(record)
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
