"""The index's commands: ``serve``, ``export-index``, ``mirror sync``, ``fetch``.

Thin layers over :mod:`casstore.index` (server, export, mirror, client). Library errors reach
:func:`casstore.cli.main`, which prints them as one line.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ..digest import Digest
from ..errors import CasstoreError, StoreFormatError
from ..store import Store
from .context import current
from .output import emit_json

__all__ = ["COMMANDS"]


def _store(create: bool = False) -> Store:
    return current().store(create=create)


def _quiet_logging() -> None:
    """The commands print what was skipped themselves; keep logging's last-resort handler quiet."""
    logging.getLogger("casstore").addHandler(logging.NullHandler())


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--files-url", help="Point file links here (a CDN or secondary cache) instead of /files/.")
@click.option("--project-files-url", "project_urls", multiple=True, metavar="PROJECT=URL",
              help="Point one project's file links at its secondary cache location (repeatable).")
@click.option("--no-access-log", is_flag=True, help="Do not log every request.")
@click.option("--serve-rebuilt", is_flag=True,
              help="Also list rebuilt wheels stored beside an uploaded wheel of the same distribution "
                   "(pip and uv prefer their build tag).")
def serve(host: str, port: int, files_url: str | None, project_urls: tuple[str, ...], no_access_log: bool,
          serve_rebuilt: bool) -> None:
    """Serve the store as a simple index (PEP 503/691/700/658) that pip and uv install from."""
    from ..index.server import serve as run

    store = _store()
    where = current().path
    click.echo(f"casstore: serving {where} at http://{host}:{port}/simple/", err=True)
    run(store, host, port, files_url=files_url, project_files_url=_pairs(project_urls),
        access_log=not no_access_log, serve_rebuilt=serve_rebuilt)


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        project, sep, url = v.partition("=")
        if not sep or not project or not url:
            raise click.BadParameter(f"expected PROJECT=URL, got {v!r}", param_hint="--project-files-url")
        out[project] = url
    return out


@click.command(name="export-index")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--files-url", help="Point file links here instead of copying files into DIRECTORY/files.")
@click.option("--project-files-url", "project_urls", multiple=True, metavar="PROJECT=URL",
              help="Point one project's file links at its secondary cache location (repeatable).")
@click.option("--nginx-conf", type=click.Path(dir_okay=False),
              help="Also write an nginx server block for the export to this file.")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="The nginx block's listen address.")
@click.option("--json", "as_json", is_flag=True)
def export_index_cmd(directory: str, files_url: str | None, project_urls: tuple[str, ...],
                     nginx_conf: str | None, listen: str, as_json: bool) -> None:
    """Write the simple index as static files (HTML and JSON pages, metadata files, files)."""
    from ..index.export import export_index, nginx_server

    report = export_index(_store(), directory, files_url=files_url, project_files_url=_pairs(project_urls))
    if nginx_conf:
        Path(nginx_conf).write_text(nginx_server(Path(directory).resolve(), listen))
    if as_json:
        emit_json(report.to_json())
    else:
        click.echo(f"{report.projects} projects; {report.files_written} files written, {report.files_kept} "
                   f"unchanged, {report.metadata_written} metadata files, {len(report.removed)} removed")


@click.group()
def mirror() -> None:
    """Keep this store as a secondary cache (mirror) of a casstore server."""


@mirror.command()
@click.option("--from", "primary", required=True, help="Base URL of the casstore server to mirror.")
@click.option("--project", "projects", multiple=True, help="Only these projects (repeatable).")
@click.option("--since", type=float, help="Only files the primary added after this Unix time.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per request.")
@click.option("--json", "as_json", is_flag=True)
def sync(primary: str, projects: tuple[str, ...], since: float | None, timeout: float, as_json: bool) -> None:
    """Fetch what the primary has and this store lacks, verified by blake3 and sha256."""
    from ..index.mirror import SyncReport, sync_mirror

    _quiet_logging()
    store = _store(create=True)
    total = SyncReport()
    for project in projects or (None,):
        r = sync_mirror(store, primary, project=project, since=since, timeout=timeout)
        total.fetched += r.fetched
        total.present += r.present
        total.bytes_fetched += r.bytes_fetched
        total.failed += r.failed
    if as_json:
        emit_json(total.to_json())
    else:
        click.echo(f"fetched {len(total.fetched)} files ({total.bytes_fetched} bytes), "
                   f"{total.present} already present, {len(total.failed)} failed")
        for name, why in total.failed:
            click.echo(f"  failed: {name}: {why}", err=True)
    if total.failed:
        raise SystemExit(1)


@click.command()
@click.argument("name")
@click.option("--source", "sources", multiple=True, required=True,
              help="A simple index to try, in order (repeatable): casstore server, export, or mirror.")
@click.option("--index", help="Trusted index for the digests, when the store's catalog does not know the file.")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option("--into-store", is_flag=True, help="Also put the verified file into the store.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per request.")
def fetch(name: str, sources: tuple[str, ...], index: str | None, output: str, into_store: bool,
          timeout: float) -> None:
    """Fetch a file (by filename, or digest if the catalog knows it) from the first source serving
    bytes with the trusted digest; sources serving other bytes are skipped and reported."""
    from ..index.client import fetch as do_fetch

    _quiet_logging()
    store: Store | None
    try:
        store = _store(create=into_store)
    except StoreFormatError:
        if index is None:
            raise
        store = None
    if Digest.looks_like(name):
        if store is None:
            raise CasstoreError(f"{name!r} is a digest, but there is no store whose catalog could name it")
        name = store.info(name).filename
    result = do_fetch(name, sources, store=store, index=index, dest=output, timeout=timeout,
                      into_store=into_store)
    for src, why in result.skipped:
        click.echo(f"casstore: skipped {src}: {why}", err=True)
    click.echo(f"{result.path} (from {result.source})")


COMMANDS = (serve, export_index_cmd, mirror, fetch)
