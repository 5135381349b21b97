"""Formatting helpers for people (sizes, ratios). Pure."""

from __future__ import annotations

__all__ = ["size", "ratio"]


def size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def ratio(stored: int, raw: int) -> str:
    return f"{stored / raw:.3f}" if raw else "-"
