"""The ``casstore`` command: a thin layer over :class:`casstore.Store`.

Library errors become one line on stderr and exit status 1 here, in one place; usage errors exit 2.
Other packages add subcommands through the ``casstore.commands`` entry-point group (the verifier
does), so this package never imports them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from . import _human, _pypi
from ._errors import CasstoreError
from ._model import FileInfo
from ._open import open_store
from ._store import DEFAULT_GRACE, Store

__all__ = ["DEFAULT_STORE", "cli", "main", "pass_store"]

DEFAULT_STORE = "casstore-store"
_DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")

console = Console(stderr=True)
out = Console()


class _Ctx:
    def __init__(self, path: str, sources: Sequence[str] = (), rebuilder: str = "auto",
                 catalog: str | None = None) -> None:
        self.path = path
        self.catalog = catalog
        self.sources = tuple(sources)
        self.rebuilder = rebuilder
        self._store: Store | None = None

    @property
    def directory(self) -> Path | None:
        """The store's directory when it is one (not memory:// or s3://)."""
        if "://" not in self.path:
            return Path(self.path)
        return Path(self.path[len("file://"):]) if self.path.startswith("file://") else None

    def store(self, create: bool = False) -> Store:
        if self._store is None:
            self._store = open_store(self.path, catalog=self.catalog, create=create, sources=self.sources,
                                     rebuilder=_load_rebuilder(self.rebuilder, self.directory))
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def pass_store(create: bool = False) -> Any:
    """Decorator for plugin commands: inject the opened :class:`Store` as the first argument."""

    def deco(fn: Any) -> Any:
        @click.pass_obj
        def wrapper(ctx: _Ctx, *a: Any, **kw: Any) -> Any:
            return fn(ctx.store(create=create), *a, **kw)

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return deco


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def _files_table(files: Sequence[FileInfo]) -> Table:
    t = Table(show_edge=False, header_style="bold")
    for col in ("filename", "kind", "size", "stored", "blake3"):
        t.add_column(col, justify="right" if col in ("size", "stored") else "left")
    for f in files:
        t.add_row(f.filename, f.kind, _human.size(f.size), _human.size(f.stored_size), f.blake3.short)
    return t


def _dist_files(paths: Sequence[str]) -> Iterator[Path]:
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.is_file() and q.name.endswith(_DIST_SUFFIXES))
        else:
            yield p


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", "store_path", envvar="CASSTORE_STORE", default=DEFAULT_STORE, show_default=True,
              help="Store directory, or s3://BUCKET/PREFIX?endpoint=URL (with --catalog), or memory:// "
                   "(env CASSTORE_STORE).")
@click.option("--catalog", envvar="CASSTORE_CATALOG", default=None,
              help="Catalog URL: postgresql://USER@HOST:PORT/DB or a SQLite file path; default: the store "
                   "directory's catalog.sqlite (env CASSTORE_CATALOG).")
@click.option("--source", "sources", multiple=True, envvar="CASSTORE_SOURCES",
              help="Secondary cache (simple-index URL) tried first for evicted wheels; repeatable "
                   "(env CASSTORE_SOURCES, space-separated).")
@click.option("--rebuilder", default="auto", show_default=True, envvar="CASSTORE_REBUILDER",
              help="Rebuilder for evicted wheels: a name in the casstore.rebuilders entry points, "
                   "'auto' (the first installed) or 'none'.")
@click.version_option(package_name="casstore")
@click.pass_context
def cli(ctx: click.Context, store_path: str, catalog: str | None, sources: tuple[str, ...], rebuilder: str) -> None:
    """casstore: a content-addressed, verified store for Python sdists and wheels."""
    ctx.obj = _Ctx(store_path, sources, rebuilder, catalog)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@click.pass_obj
def init(ctx: _Ctx) -> None:
    """Create a store (an empty directory with a catalog)."""
    ctx.store(create=True)
    click.echo(f"initialized store at {ctx.path}")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the stored files as JSON.")
@click.pass_obj
def put(ctx: _Ctx, paths: tuple[str, ...], as_json: bool) -> None:
    """Add sdists and wheels (files, or directories searched recursively)."""
    store = ctx.store(create=True)
    files = list(_dist_files(paths))
    infos = []
    with _progress() as prog:
        task = prog.add_task("put", total=sum(p.stat().st_size for p in files if p.exists()))
        for p in files:
            prog.update(task, description=p.name[:40])
            infos.append(store.put(p))
            prog.advance(task, p.stat().st_size)
    if as_json:
        _emit_json([i.to_json() for i in infos])
    else:
        for i in infos:
            click.echo(f"{i.blake3}  {i.filename}")


@cli.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(), default=".", show_default=True,
              help="Destination file or directory.")
@click.pass_obj
def get(ctx: _Ctx, name: str, output: str) -> None:
    """Write a file (by filename or digest) to OUTPUT, verified and atomically."""
    info = ctx.store().export(name, output)
    dest = Path(output) / info.filename if Path(output).is_dir() else Path(output)
    click.echo(f"{dest}  {info.blake3}")


@cli.command()
@click.argument("name")
@click.pass_obj
def cat(ctx: _Ctx, name: str) -> None:
    """Stream a file to stdout (a checksum error at the end exits non-zero)."""
    sink = sys.stdout.buffer
    with ctx.store().open(name) as f:
        while chunk := f.read(1 << 20):
            sink.write(chunk)
    sink.flush()


@cli.command(name="ls")
@click.option("--project")
@click.option("--version")
@click.option("--kind", type=click.Choice(["sdist", "wheel"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def ls_(ctx: _Ctx, project: str | None, version: str | None, kind: str | None, as_json: bool) -> None:
    """List files, optionally by project, version and kind."""
    files = ctx.store().ls(project=project, version=version, kind=kind)
    if as_json:
        _emit_json([f.to_json() for f in files])
    else:
        out.print(_files_table(files))


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def info(ctx: _Ctx, name: str, as_json: bool) -> None:
    """Show what the catalog knows about a file."""
    i = ctx.store().info(name)
    if as_json:
        _emit_json(i.to_json())
    else:
        for k, v in i.to_json().items():
            click.echo(f"{k:12} {' '.join(v) if isinstance(v, list) else v}")


@cli.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def rm(ctx: _Ctx, names: tuple[str, ...]) -> None:
    """Remove files from the catalog (their blobs go at the next gc)."""
    store = ctx.store()
    for n in names:
        i = store.rm(n)
        click.echo(f"removed {i.filename}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--repair", is_flag=True,
              help="Move corrupt blobs aside and restore bad blobs from --mirror (and --source); rebuild a "
                   "lost or unreadable catalog from the blobs (the broken one is kept beside it).")
@click.option("--mirror", "mirrors", multiple=True,
              help="With --repair: a store directory or simple-index URL to restore blobs from; repeatable. "
                   "Bytes are accepted only when they hash to the recorded digest.")
@click.pass_obj
def fsck(ctx: _Ctx, as_json: bool, repair: bool, mirrors: tuple[str, ...]) -> None:
    """Re-hash every blob; report corrupt, missing and unreferenced ones. Exits 1 if damaged."""
    from . import _repair

    recovered = None
    if repair:
        if ctx.directory is not None and ctx.catalog is None:  # the embedded catalog.sqlite can be re-derived here
            recovered = _repair.recover_if_needed(ctx.directory)
        if recovered is not None and not as_json:
            click.echo(f"catalog rebuilt from the blobs: {recovered.files} files ({recovered.evicted} evicted), "
                       f"{recovered.rebuild_records} rebuild records, {recovered.recovered_pins} blobs pinned "
                       f"as 'recovered'; the broken catalog is kept as {', '.join(recovered.moved_aside) or '-'}")
    store = ctx.store()
    with _progress() as prog:
        task = prog.add_task("fsck", total=None)
        report = store.fsck(progress=lambda n: prog.advance(task, n), repair=repair,
                            mirrors=[*mirrors, *ctx.sources])
    if as_json:
        _emit_json({**report.to_json(), "recovered": recovered.to_json() if recovered else None})
    else:
        click.echo(f"checked {report.objects_checked} objects, {_human.size(report.bytes_checked)}")
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


@cli.command()
@click.option("--grace", type=float, default=DEFAULT_GRACE, show_default=True,
              help="Keep unreferenced blobs younger than this many seconds.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def gc(ctx: _Ctx, grace: float, as_json: bool) -> None:
    """Delete blobs that nothing references (safe while others write)."""
    report = ctx.store().gc(grace=grace)
    if as_json:
        _emit_json(report.to_json())
    else:
        click.echo(f"removed {len(report.removed)} blobs, freed {_human.size(report.freed_bytes)}; "
                   f"kept {report.kept_young} inside the grace period")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--top", type=int, default=20, show_default=True, help="Projects to show.")
@click.pass_obj
def stats(ctx: _Ctx, as_json: bool, top: int) -> None:
    """Raw and stored bytes, overall and per project (largest first)."""
    s = ctx.store().stats()
    if as_json:
        _emit_json(s.to_json())
        return
    _print_stats(s, top)


def _print_stats(s: Any, top: int = 20) -> None:
    out.print(f"{s.files} files ({s.sdists} sdists, {s.wheels} wheels): raw {_human.size(s.raw_bytes)}, "
              f"stored {_human.size(s.stored_bytes)}, ratio {_human.ratio(s.stored_bytes, s.raw_bytes)}, "
              f"saved {_human.size(s.saved_bytes)}")
    t = Table(show_edge=False, header_style="bold")
    for col in ("project", "files", "raw", "stored", "ratio"):
        t.add_column(col, justify="left" if col == "project" else "right")
    for p in s.projects[:top]:
        t.add_row(p.project, str(p.files), _human.size(p.raw_bytes), _human.size(p.stored_bytes),
                  _human.ratio(p.stored_bytes, p.raw_bytes))
    out.print(t)


@cli.command()
@click.argument("specs", nargs=-1, required=True)
@click.option("--latest", type=int, help="Only the newest N matching releases of each spec.")
@click.option("--index", default=_pypi.PYPI_SIMPLE, show_default=True, help="Upstream PEP 691 index.")
@click.option("--cache", type=click.Path(), default=".cache/casstore", show_default=True,
              help="Download cache directory.")
@click.option("--kind", type=click.Choice(["sdist", "wheel"]), help="Only sdists or only wheels.")
@click.pass_obj
def pull(ctx: _Ctx, specs: tuple[str, ...], latest: int | None, index: str, cache: str, kind: str | None) -> None:
    """Fetch releases matching SPECS (like 'msgpack>=1.0') with all their files, verified, into the store."""
    from packaging.requirements import Requirement

    store = ctx.store(create=True)
    kinds = (kind,) if kind else ("sdist", "wheel")
    for spec in specs:
        project = Requirement(spec).name if _valid_req(spec) else spec
        files = _pypi.select(_pypi.list_files(project, index=index), spec, latest=latest, kinds=kinds)
        with _progress() as prog:
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


@cli.command()
@click.option("--cache", type=click.Path(), default=".cache/casstore", show_default=True,
              help="Download cache directory.")
@click.option("--store-only", is_flag=True, help="Skip the steps other packages add (rebuilds, eviction, report).")
@click.pass_obj
def demo(ctx: _Ctx, cache: str, store_only: bool) -> None:
    """The main job: pull real releases, store them, read every file back verified, show savings."""
    from . import _demo

    store = ctx.store(create=True)
    out.print(f"[bold]casstore demo[/] — store at {ctx.path}")
    out.print("1. downloading " + ", ".join(f"{s} (newest {n} releases)" for s, n in _demo.DEMO_SPECS)
              + " with all their files")
    paths = _demo.fetch(_demo.DEMO_SPECS, Path(cache))
    out.print(f"   {len(paths)} files, {_human.size(sum(p.stat().st_size for p in paths))}")
    out.print("2. storing them, then reading each back and verifying its digest")
    r = _demo.run_demo(store, paths)
    out.print(f"   put {r.files} files in {r.ingest_seconds:.1f} s; read back and verified {r.verified} "
              f"files ({_human.size(r.raw_bytes)}) in {r.read_seconds:.1f} s")
    out.print("3. what the store holds")
    _print_stats(store.stats())
    report = store.fsck()
    out.print(f"4. fsck: {report.objects_checked} objects re-hashed: {'ok' if report.ok else 'DAMAGED'}")
    if not store_only:  # e.g. the verifier: rebuild, grade, evict, serve, fetch back, report
        for ep in sorted(entry_points(group="casstore.demo"), key=lambda e: e.name):
            ep.load()(store, lambda msg: out.print(msg, highlight=False, markup=False), Path(cache))


def _load_rebuilder(name: str, root: Path | None) -> Any:
    """A rebuilder from the ``casstore.rebuilders`` entry points: a factory called with the store root.
    This is how the application wires the verifier in; casstore never imports it."""
    if name == "none":
        return None
    eps = sorted(entry_points(group="casstore.rebuilders"), key=lambda e: e.name)
    chosen = [e for e in eps if name in ("auto", e.name)]
    if not chosen:
        if name == "auto":
            return None
        raise CasstoreError(f"Unknown rebuilder {name!r} (installed: {', '.join(e.name for e in eps) or 'none'})")
    return chosen[0].load()(root)


def _load_plugins() -> None:
    if getattr(_load_plugins, "done", False):
        return
    _load_plugins.done = True  # type: ignore[attr-defined]
    for ep in entry_points(group="casstore.commands"):
        try:
            cmd = ep.load()
        except Exception as e:  # a broken plugin must not take the core CLI down
            console.print(f"casstore: warning: cannot load command {ep.name!r}: {e}")
            continue
        cli.add_command(cmd, ep.name)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    _load_plugins()
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name=prog or "casstore",
                 standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except CasstoreError as e:
        click.echo(f"casstore: error: {e}", err=True)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    return 0


from ._cli_evict import register as _register_evict
from ._cli_index import register as _register_index

_register_index(cli)
_register_evict(cli)

if __name__ == "__main__":
    sys.exit(main())
