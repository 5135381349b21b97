"""The ``casstore`` command group and :func:`main`: a thin layer over the library.

Library errors become one line on stderr and exit status 1 here, in one place; usage errors exit 2.
Other packages add subcommands through the ``casstore.commands`` entry-point group (the verifier
does), so this package never imports them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

import click

from ..errors import CasstoreError
from . import cache as cache_cmds
from . import demo as demo_cmds
from . import index as index_cmds
from . import maintenance as maintenance_cmds
from . import store as store_cmds
from .context import DEFAULT_STORE, StoreContext
from .output import console

__all__ = ["cli", "main"]


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
    ctx.obj = StoreContext(store_path, sources, rebuilder, catalog)
    ctx.call_on_close(ctx.obj.close)


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


for _module in (store_cmds, maintenance_cmds, cache_cmds, index_cmds, demo_cmds):
    for _cmd in _module.COMMANDS:
        cli.add_command(_cmd)
