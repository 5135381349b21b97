"""Commands for wheels as a cache: ``evict``, ``reclaimable``, ``reconstruct``. Thin over :class:`casstore.WheelCache`."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from ..cache import Policy
from .context import StoreContext
from .output import emit_json, out, size, table

__all__ = ["COMMANDS"]


def _size(text: str) -> int:
    units = {"": 1, "B": 1, "K": 1024, "KB": 1000, "KIB": 1024, "M": 1024**2, "MB": 1000**2, "MIB": 1024**2,
             "G": 1024**3, "GB": 1000**3, "GIB": 1024**3, "T": 1024**4, "TB": 1000**4, "TIB": 1024**4}
    t = text.strip().upper().replace(" ", "")
    num = t.rstrip("KMGTIB")
    try:
        return int(float(num) * units[t[len(num):]])
    except (KeyError, ValueError):
        raise click.BadParameter(f"not a size: {text!r} (use e.g. 2GB, 500MiB, 1048576)") from None


@click.command()
@click.argument("names", nargs=-1)
@click.option("--budget", help="Bring the store's stored bytes under this size (e.g. 2GB).")
@click.option("--project", "projects", multiple=True, help="Only these projects (repeatable).")
@click.option("--older-than", "older_days", type=float, help="Only wheels added more than N days ago.")
@click.option("--max-downloads", type=int, help="Only wheels requested at most N times.")
@click.option("--on-target", is_flag=True,
              help="Only wheels whose rebuilds were imported on the target, not checked only structurally.")
@click.option("--dry-run", is_flag=True, help="Print what would go and the bytes saved; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def evict(ctx: StoreContext, names: tuple[str, ...], budget: str | None, projects: tuple[str, ...],
          older_days: float | None, max_downloads: int | None, on_target: bool, dry_run: bool, as_json: bool) -> None:
    """Evict reproducible wheels (named, or chosen by policy); their digests and recipes stay."""
    from packaging.utils import canonicalize_name

    cache = ctx.cache()
    policy = Policy(
        budget=_size(budget) if budget else None,
        projects=frozenset(canonicalize_name(p) for p in projects),
        older_than=time.time() - older_days * 86400 if older_days is not None else None,
        max_downloads=max_downloads, on_target=on_target,
    )
    report = cache.evict(list(names) if names else None, policy=policy, dry_run=dry_run)
    if as_json:
        emit_json(report.to_json())
        return
    verb = "would evict" if dry_run else "evicted"
    for name, freed in report.evicted:
        click.echo(f"{verb} {name} ({size(freed)})")
    for name, why in report.refused:
        click.echo(f"refused {name}: {why}")
    click.echo(f"{verb} {len(report.evicted)} wheels; {size(report.freed_bytes)} freed"
               f"{' at the next gc' if not dry_run else ''}; {len(report.refused)} refused")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def reclaimable(ctx: StoreContext, as_json: bool) -> None:
    """Bytes eviction could reclaim, per project (largest first)."""
    rows = ctx.cache().reclaimable()
    if as_json:
        click.echo(json.dumps([_row(r) for r in rows], indent=2))
        return
    out.print(table(("project", "wheels", "evictable", "stored", "reclaimable"),
                    [(r.project, str(r.wheels), str(r.evictable), size(r.stored_bytes), size(r.reclaimable_bytes))
                     for r in rows]))


def _row(r: Any) -> dict[str, Any]:
    return {k: getattr(r, k) for k in r.__slots__}


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def reconstruct(ctx: StoreContext, names: tuple[str, ...]) -> None:
    """Bring evicted wheels back now (secondary caches, then a rebuild), verified."""
    cache = ctx.cache()
    for n in names:
        r = cache.reconstruct(n)
        click.echo(f"{r.filename}: {r.how} ({r.seconds:.1f} s)")


COMMANDS = (evict, reclaimable, reconstruct)
