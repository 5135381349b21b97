"""``casstore build-all``: canonical builds of every sdist in the store (registered through the
``casstore.commands`` entry points)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..errors import VerifierError
from ..nightly.build_all import build_all as _build_all
from ..toolchain.targets import DEFAULT_TARGET
from .targetopt import TargetName

__all__ = ["build_all"]


@click.command(name="build-all")
@click.option("--target", "targets", multiple=True, type=TargetName(), default=[DEFAULT_TARGET],
              show_default=True, help="Target to build for (repeatable).")
@click.option("--project", "projects", multiple=True, help="Only these projects (repeatable).")
@click.option("--builds", type=int, default=2, show_default=True, help="Builds per (sdist, target).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cache/build-all"),
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def build_all(ctx: Any, targets: tuple[str, ...], projects: tuple[str, ...], builds: int, workdir: Path,
              as_json: bool) -> None:
    """Rebuild every sdist in the store for the targets, grade, keep records and store the wheels."""
    from packaging.utils import canonicalize_name

    err = Console(stderr=True)
    try:
        rows = _build_all(ctx.store(create=True), targets, workdir=workdir, builds=builds,
                          projects=[canonicalize_name(p) for p in projects],
                          progress=lambda m: err.print(m, highlight=False))
    except VerifierError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps([{k: getattr(r, k) for k in r.__slots__} for r in rows],
                              indent=2))
        return
    t = Table(show_edge=False, header_style="bold")
    for col in ("sdist", "target", "grade", "wheel", "stored"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.sdist, r.target, r.grade, r.wheel or "-", r.stored)
    Console().print(t)
