"""The store's commands: init, put, get, cat, ls, info, rm, gc, stats, pull."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from ..errors import CasstoreError
from ..index import pypi as _pypi
from ..store import DEFAULT_GRACE
from .context import StoreContext
from .output import emit_json, files_table, out, progress, ratio, size, table

__all__ = ["COMMANDS", "print_stats"]

_DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


def _dist_files(paths: Sequence[str]) -> Iterator[Path]:
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.is_file() and q.name.endswith(_DIST_SUFFIXES))
        else:
            yield p


@click.command()
@click.pass_obj
def init(ctx: StoreContext) -> None:
    """Create a store (an empty directory with a catalog)."""
    ctx.store(create=True)
    click.echo(f"initialized store at {ctx.path}")


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the stored files as JSON.")
@click.pass_obj
def put(ctx: StoreContext, paths: tuple[str, ...], as_json: bool) -> None:
    """Add sdists and wheels (files, or directories searched recursively)."""
    store = ctx.store(create=True)
    files = list(_dist_files(paths))
    infos = []
    with progress() as prog:
        task = prog.add_task("put", total=sum(p.stat().st_size for p in files if p.exists()))
        for p in files:
            prog.update(task, description=p.name[:40])
            infos.append(store.put(p))
            prog.advance(task, p.stat().st_size)
    if as_json:
        emit_json([i.to_json() for i in infos])
    else:
        for i in infos:
            click.echo(f"{i.blake3}  {i.filename}")


@click.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(), default=".", show_default=True,
              help="Destination file or directory.")
@click.pass_obj
def get(ctx: StoreContext, name: str, output: str) -> None:
    """Write a file (by filename or digest) to OUTPUT, verified and atomically."""
    info = ctx.store().export(name, output)
    dest = Path(output) / info.filename if Path(output).is_dir() else Path(output)
    click.echo(f"{dest}  {info.blake3}")


@click.command()
@click.argument("name")
@click.pass_obj
def cat(ctx: StoreContext, name: str) -> None:
    """Stream a file to stdout (a checksum error at the end exits non-zero)."""
    sink = sys.stdout.buffer
    with ctx.store().open(name) as f:
        while chunk := f.read(1 << 20):
            sink.write(chunk)
    sink.flush()


@click.command(name="ls")
@click.option("--project")
@click.option("--version")
@click.option("--kind", type=click.Choice(["sdist", "wheel"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def ls_(ctx: StoreContext, project: str | None, version: str | None, kind: str | None, as_json: bool) -> None:
    """List files, optionally by project, version and kind."""
    files = ctx.store().ls(project=project, version=version, kind=kind)
    if as_json:
        emit_json([f.to_json() for f in files])
    else:
        out.print(files_table(files))


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def info(ctx: StoreContext, name: str, as_json: bool) -> None:
    """Show what the catalog knows about a file."""
    i = ctx.store().info(name)
    if as_json:
        emit_json(i.to_json())
    else:
        for k, v in i.to_json().items():
            click.echo(f"{k:12} {' '.join(v) if isinstance(v, list) else v}")


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def rm(ctx: StoreContext, names: tuple[str, ...]) -> None:
    """Remove files from the catalog (their blobs go at the next gc)."""
    store = ctx.store()
    for n in names:
        i = store.rm(n)
        click.echo(f"removed {i.filename}")


@click.command()
@click.option("--grace", type=float, default=DEFAULT_GRACE, show_default=True,
              help="Keep unreferenced blobs younger than this many seconds.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def gc(ctx: StoreContext, grace: float, as_json: bool) -> None:
    """Delete blobs that nothing references (safe while others write)."""
    report = ctx.store().gc(grace=grace)
    if as_json:
        emit_json(report.to_json())
    else:
        click.echo(f"removed {len(report.removed)} blobs, freed {size(report.freed_bytes)}; "
                   f"kept {report.kept_young} inside the grace period")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--top", type=int, default=20, show_default=True, help="Projects to show.")
@click.pass_obj
def stats(ctx: StoreContext, as_json: bool, top: int) -> None:
    """Raw and stored bytes, overall and per project (largest first)."""
    s = ctx.store().stats()
    if as_json:
        emit_json(s.to_json())
        return
    print_stats(s, top)


def print_stats(s: Any, top: int = 20) -> None:
    out.print(f"{s.files} files ({s.sdists} sdists, {s.wheels} wheels): raw {size(s.raw_bytes)}, "
              f"stored {size(s.stored_bytes)}, ratio {ratio(s.stored_bytes, s.raw_bytes)}, "
              f"saved {size(s.saved_bytes)}")
    out.print(table(("project", "files", "raw", "stored", "ratio"),
                    [(p.project, str(p.files), size(p.raw_bytes), size(p.stored_bytes),
                      ratio(p.stored_bytes, p.raw_bytes)) for p in s.projects[:top]]))


@click.command()
@click.argument("specs", nargs=-1, required=True)
@click.option("--latest", type=int, help="Only the newest N matching releases of each spec.")
@click.option("--index", default=_pypi.PYPI_SIMPLE, show_default=True, help="Upstream PEP 691 index.")
@click.option("--cache", type=click.Path(), default=".cache/casstore", show_default=True,
              help="Download cache directory.")
@click.option("--kind", type=click.Choice(["sdist", "wheel"]), help="Only sdists or only wheels.")
@click.pass_obj
def pull(ctx: StoreContext, specs: tuple[str, ...], latest: int | None, index: str, cache: str, kind: str | None) -> None:
    """Fetch releases matching SPECS (like 'msgpack>=1.0') with all their files, verified, into the store."""
    from packaging.requirements import Requirement

    store = ctx.store(create=True)
    kinds = (kind,) if kind else ("sdist", "wheel")
    for spec in specs:
        project = Requirement(spec).name if _valid_req(spec) else spec
        files = _pypi.select(_pypi.list_files(project, index=index), spec, latest=latest, kinds=kinds)
        with progress() as prog:
            task = prog.add_task(project, total=sum(f.size or 0 for f in files))
            for f in files:
                path = _pypi.download(f, Path(cache) / "downloads", progress=lambda n: prog.advance(task, n))
                i = store.put(path)
                click.echo(f"{i.blake3}  {i.filename}")


def _valid_req(spec: str) -> bool:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(spec)
    except InvalidRequirement:
        raise CasstoreError(f"Invalid requirement {spec!r}") from None
    return True


COMMANDS = (init, put, get, cat, ls_, info, rm, gc, stats, pull)
