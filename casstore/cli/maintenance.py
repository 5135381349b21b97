"""The maintenance command: fsck (with --repair)."""

from __future__ import annotations

import sys

import click

from ..maintenance.fsck import fsck as run_fsck
from ..maintenance.recovery import recover_if_needed
from .context import StoreContext
from .output import emit_json, progress, size

__all__ = ["COMMANDS"]


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--repair", is_flag=True,
              help="Move corrupt blobs aside and restore bad blobs from --mirror (and --source); rebuild a "
                   "lost or unreadable catalog from the blobs (the broken one is kept beside it).")
@click.option("--mirror", "mirrors", multiple=True,
              help="With --repair: a store directory or simple-index URL to restore blobs from; repeatable. "
                   "Bytes are accepted only when they hash to the recorded digest.")
@click.pass_obj
def fsck(ctx: StoreContext, as_json: bool, repair: bool, mirrors: tuple[str, ...]) -> None:
    """Re-hash every blob; report corrupt, missing and unreferenced ones. Exits 1 if damaged."""
    recovered = None
    if repair:
        if ctx.directory is not None and ctx.catalog is None:  # the embedded catalog.sqlite can be re-derived here
            recovered = recover_if_needed(ctx.directory)
        if recovered is not None and not as_json:
            click.echo(f"catalog rebuilt from the blobs: {recovered.files} files ({recovered.evicted} evicted), "
                       f"{recovered.rebuild_records} rebuild records, {recovered.recovered_pins} blobs pinned "
                       f"as 'recovered'; the broken catalog is kept as {', '.join(recovered.moved_aside) or '-'}")
    store = ctx.store()
    with progress() as prog:
        task = prog.add_task("fsck", total=None)
        report = run_fsck(store, progress=lambda n: prog.advance(task, n), repair=repair,
                              mirrors=[*mirrors, *ctx.sources])
    if as_json:
        emit_json({**report.to_json(), "recovered": recovered.to_json() if recovered else None})
    else:
        click.echo(f"checked {report.objects_checked} objects, {size(report.bytes_checked)}")
        for p in report.catalog_problems:
            click.echo(f"catalog      {p}")
        for d, why in report.corrupt:
            click.echo(f"corrupt      {d}: {why}")
        for d in report.missing:
            click.echo(f"missing      {d}")
        for d in report.unreferenced:
            click.echo(f"unreferenced {d}")
        for f in report.damaged_files:
            click.echo(f"damaged file {f}")
        for q in report.quarantined:
            click.echo(f"moved aside  {q}")
        for r in report.repaired:
            click.echo(f"repaired     {r}")
        click.echo("ok" if report.ok else "DAMAGED")
    if not report.ok:
        sys.exit(1)


COMMANDS = (fsck,)
