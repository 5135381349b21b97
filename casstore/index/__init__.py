"""The index: what pip, uv and other servers see of a store.

- :mod:`.pages`: PEP 503/691/700 project pages (pure: decisions, no I/O);
- :mod:`.projects`: which files a project page lists, and their core metadata (PEP 658);
- :mod:`.server`: the ASGI server over a store (:func:`make_app`, :func:`serve`, :func:`running`);
- :mod:`.export`: the same index as static files for nginx;
- :mod:`.client`: fetching a file from ordered simple-index sources, verified by trusted digests;
- :mod:`.mirror`: keeping a store as a secondary cache of a casstore server;
- :mod:`.pypi`: listing and downloading a project's files from PyPI (or any PEP 691 index).

The web stack loads on first use, so that a plain store (a CLI put, a worker process) stays small.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import Expected, FetchFailed, FetchResult, fetch, trusted_digests
    from .export import ExportReport, export_index, nginx_server
    from .mirror import SyncReport, sync_mirror
    from .server import make_app, running, serve

__all__ = [
    "Expected",
    "ExportReport",
    "FetchFailed",
    "FetchResult",
    "SyncReport",
    "export_index",
    "fetch",
    "make_app",
    "nginx_server",
    "running",
    "serve",
    "sync_mirror",
    "trusted_digests",
]

_LAZY = {
    "ExportReport": "export", "export_index": "export", "nginx_server": "export",
    "Expected": "client", "FetchFailed": "client", "FetchResult": "client", "fetch": "client",
    "trusted_digests": "client",
    "SyncReport": "mirror", "sync_mirror": "mirror",
    "make_app": "server", "running": "server", "serve": "server",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'casstore.index' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"casstore.index.{module}"), name)
    globals()[name] = value
    return value
