"""What the commands print: sizes and ratios for people, JSON for programs, tables, a progress bar."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from ..model import FileInfo

__all__ = ["console", "emit_json", "files_table", "out", "progress", "ratio", "size", "table"]

console = Console(stderr=True)  # progress and notes
out = Console()  # results


def size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def ratio(stored: int, raw: int) -> str:
    return f"{stored / raw:.3f}" if raw else "-"


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, left: Sequence[str] = ()) -> Table:
    """A table for ``out.print``: the first column and those in ``left`` flush left, the rest right."""
    t = Table(show_edge=False, header_style="bold")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 or col in left else "right")
    for row in rows:
        t.add_row(*row)
    return t


def files_table(files: Sequence[FileInfo]) -> Table:
    return table(("filename", "kind", "size", "stored", "blake3"),
                 [(f.filename, f.kind, size(f.size), size(f.stored_size), f.blake3.short) for f in files],
                 left=("kind", "blake3"))


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    )
