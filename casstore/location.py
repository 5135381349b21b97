"""Opening a store from a location — a directory (the embedded default), ``memory://`` or ``s3://`` —
with a :class:`casstore.WheelCache` wired in as its reviver (the one place the store meets the cache).

A store is two parts: objects (a directory, or an S3 bucket and prefix) and a catalog (SQLite inside
the directory by default, or any catalog URL :func:`casstore.catalog.open_catalog` accepts). For a
store whose objects are not a directory, the catalog records which objects it describes, so a
catalog is never paired with another store's bucket by mistake.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .cache import Rebuilder, WheelCache
from .catalog import BaseCatalog, open_catalog
from .errors import CasstoreError, StoreFormatError
from .store import FORMAT_VERSION, Store

__all__ = ["objects_identity", "open_store"]

_SECRET_PARAMS = ("access_key_id", "secret_access_key", "session_token")


def _scheme(location: str) -> str:
    return urlsplit(location).scheme.lower() if "://" in location else ""


def objects_identity(url: str) -> str:
    """What names an S3 store's objects: the URL without credentials or tuning parameters."""
    parts = urlsplit(url)
    keep = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k in ("endpoint",)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), urlencode(keep, safe=":/"), ""))


def open_store(location: str | os.PathLike[str], *, catalog: str | os.PathLike[str] | None = None,
               create: bool = True, rebuilder: Rebuilder | None = None, sources: Sequence[str] = (),
               workdir: Path | None = None, **kw: Any) -> Store:
    """Open the store at ``location``, with a :class:`WheelCache` as its reviver (``store.reviver``):
    ``rebuilder`` and ``sources`` (secondary caches, simple-index URLs) bring evicted wheels back,
    ``workdir`` is where reconstructions run (default: the store's temp directory).

    - a directory path or ``file:///PATH``: the embedded default (objects in the directory; the
      catalog in its ``catalog.sqlite`` unless ``catalog`` names another, e.g. PostgreSQL);
    - ``memory://``: a store in memory (tests, experiments);
    - ``s3://BUCKET/PREFIX?endpoint=URL...``: objects on S3-compatible storage; ``catalog`` is
      required (``postgresql://...`` for several hosts, a SQLite path for one host).

    Other keywords (``tier``, ``clock``...) go to :class:`Store`.
    """
    store = _open(location, catalog=catalog, create=create, **kw)
    WheelCache.attach(store, rebuilder=rebuilder, sources=sources, workdir=workdir)
    return store


def _open(location: str | os.PathLike[str], *, catalog: str | os.PathLike[str] | None, create: bool,
          **kw: Any) -> Store:
    text = os.fspath(location)
    scheme = _scheme(text)
    if scheme in ("", "file"):
        path = urlsplit(text).path if scheme == "file" else text
        return Store.directory(path, create=create, catalog=catalog, **kw)
    if scheme == "memory":
        if catalog is not None:
            raise CasstoreError("A memory:// store has its own in-memory catalog; do not give --catalog")
        return Store.memory(**kw)
    if scheme == "s3":
        if catalog is None:
            raise CasstoreError(
                f"Store {objects_identity(text)!r} needs a catalog: give --catalog postgresql://... "
                "(several hosts) or a SQLite file path (one host)"
            )
        from .objects.s3 import S3Objects

        objects = S3Objects.from_url(text)
        cat_text = os.fspath(catalog)
        if not create and _scheme(cat_text) in ("", "sqlite") and not os.path.exists(
                urlsplit(cat_text).path if _scheme(cat_text) else cat_text):
            raise StoreFormatError(cat_text, "no such catalog (run 'casstore init' first)")
        cat = open_catalog(catalog)
        try:
            _claim(cat, objects_identity(text), create=create)
        except BaseException:
            cat.close()
            raise
        return Store(objects, cat, **kw)
    raise CasstoreError(f"Invalid store location {text!r}: expected a directory, file://, memory:// or s3:// URL")


def _claim(cat: BaseCatalog, identity: str, *, create: bool) -> None:
    """Check (or, for a new catalog, record) the store format and which objects this catalog describes."""
    rows = {r["key"]: r["value"] for r in cat.query(
        "SELECT key, value FROM meta WHERE key IN ('store_format', 'objects')")}
    if not rows:
        if not create:
            raise StoreFormatError(cat.where, "the catalog describes no store yet (run 'casstore init' first)")
        with cat.write():
            cat.execute("INSERT INTO meta(key, value) VALUES ('store_format', ?) ON CONFLICT(key) DO NOTHING",
                        [str(FORMAT_VERSION)])
            cat.execute("INSERT INTO meta(key, value) VALUES ('objects', ?) ON CONFLICT(key) DO NOTHING",
                        [identity])
        rows = {r["key"]: r["value"] for r in cat.query(
            "SELECT key, value FROM meta WHERE key IN ('store_format', 'objects')")}
    if rows.get("objects") != identity:
        raise StoreFormatError(cat.where, f"the catalog describes the objects at {rows.get('objects')!r}, "
                                          f"not {identity!r}")
    try:
        fmt = int(rows.get("store_format", ""))
    except ValueError:
        raise StoreFormatError(cat.where, f"unreadable store_format {rows.get('store_format')!r}") from None
    if fmt > FORMAT_VERSION:
        raise StoreFormatError(cat.where, f"format {fmt} is newer than this casstore ({FORMAT_VERSION})")
