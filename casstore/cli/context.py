"""What every command shares: the store the global options name, opened once, on first use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from ..cache import WheelCache
from ..errors import CasstoreError
from ..location import open_store
from ..store import Store

__all__ = ["DEFAULT_STORE", "StoreContext", "current", "load_rebuilder", "pass_store"]

DEFAULT_STORE = "casstore-store"


class StoreContext:
    """The global options (``--store``, ``--catalog``, ``--source``, ``--rebuilder``); the store is
    opened on first use and closed when the command ends."""

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
                                     rebuilder=load_rebuilder(self.rebuilder, self.directory))
        return self._store

    def cache(self) -> WheelCache:
        """The wheel cache :func:`casstore.open_store` attached to the store."""
        reviver = self.store().reviver
        assert isinstance(reviver, WheelCache), "open_store attaches a WheelCache"
        return reviver

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def current() -> StoreContext:
    """The context of the running command (for commands that take no ``@click.pass_obj``)."""
    obj = click.get_current_context().find_root().obj
    assert isinstance(obj, StoreContext)
    return obj


def pass_store(create: bool = False) -> Callable[[Any], Any]:
    """Decorator for plugin commands: inject the opened :class:`Store` as the first argument."""

    def deco(fn: Any) -> Any:
        @click.pass_obj
        def wrapper(ctx: StoreContext, *a: Any, **kw: Any) -> Any:
            return fn(ctx.store(create=create), *a, **kw)

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return deco


def load_rebuilder(name: str, root: Path | None) -> Any:
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
