"""Rebuild records: data other tools (the verifier) write into the catalog.

A rebuild record is JSON (schema ``casstore.verification/1``, written by the verifier or any other
tool); the store keeps the JSON itself as a pinned blob and indexes a few fields in the ``rebuilds``
table. casstore reads only those fields and never imports the tool that wrote the record.
"""

from __future__ import annotations

from typing import Any

from ..errors import CasstoreError

__all__ = ["InvalidRecord", "index_fields"]


class InvalidRecord(CasstoreError, ValueError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Invalid rebuild record: {reason}")


def index_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a rebuild record the catalog indexes (its ``rebuilds`` row, without id and blob)."""
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
