"""The catalog: what the blobs mean. One interface (:class:`BaseCatalog`), two engines: SQLite
(:class:`Catalog`, the embedded default) and PostgreSQL (:class:`PostgresCatalog`, loaded on first use)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import CasstoreError
from .base import SCHEMA_VERSION, BaseCatalog, CatalogUnavailable
from .sqlite import Catalog

__all__ = ["SCHEMA_VERSION", "BaseCatalog", "Catalog", "CatalogUnavailable", "PostgresCatalog", "open_catalog"]


def open_catalog(target: str | os.PathLike[str]) -> BaseCatalog:
    """Open (creating or upgrading the schema) the catalog at ``target``: a filesystem path or
    ``sqlite:///ABSOLUTE/PATH`` (SQLite), ``sqlite://`` or ``:memory:`` (an in-memory SQLite), or
    ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?libpq parameters]`` (PostgreSQL)."""
    text = os.fspath(target)
    if text in (":memory:", "sqlite://", "sqlite:///:memory:"):
        return Catalog.memory()
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresCatalog

        return PostgresCatalog.open(text)
    if scheme == "sqlite":
        parts = urlsplit(text)
        if parts.netloc or not parts.path.strip("/"):
            raise CasstoreError(f"Invalid catalog URL (expected sqlite:///ABSOLUTE/PATH): {text!r}")
        return Catalog.open(Path("/" + parts.path.lstrip("/")))
    if scheme:
        raise CasstoreError(f"Invalid catalog URL (scheme {scheme!r} is not sqlite or postgresql): {text!r}")
    return Catalog.open(Path(text))


def __getattr__(name: str) -> object:
    if name == "PostgresCatalog":  # psycopg loads only when a PostgreSQL catalog is used
        from .postgres import PostgresCatalog

        return PostgresCatalog
    raise AttributeError(f"module 'casstore.catalog' has no attribute {name!r}")
