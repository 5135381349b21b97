"""casstore: a content-addressed store for Python sdists and wheels.

The public API is what this module exports; everything in ``_``-modules is private.
"""

from ._digest import Digest
from ._errors import (
    CasstoreError,
    ChecksumMismatch,
    FileConflict,
    InvalidContent,
    InvalidDigest,
    InvalidFilename,
    NotFound,
    StoreFormatError,
)
from ._export import ExportReport, export_index, nginx_server
from ._mirror import Expected, FetchFailed, FetchResult, SyncReport, fetch, sync_mirror, trusted_digests
from ._model import FileInfo, FsckReport, GcReport, ProjectStats, Stats
from ._names import DistName, parse_filename
from ._objects import DiskObjects, MemoryObjects, ObjectStore
from ._records import InvalidRecord
from ._server import make_app
from ._store import DEFAULT_GRACE, FORMAT_VERSION, Store, open_store

__version__ = "0.1.0"

__all__ = [
    "CasstoreError",
    "ChecksumMismatch",
    "DEFAULT_GRACE",
    "Digest",
    "DiskObjects",
    "DistName",
    "FORMAT_VERSION",
    "FileConflict",
    "FileInfo",
    "FsckReport",
    "GcReport",
    "InvalidContent",
    "InvalidDigest",
    "InvalidFilename",
    "InvalidRecord",
    "MemoryObjects",
    "NotFound",
    "ObjectStore",
    "ProjectStats",
    "Stats",
    "Store",
    "StoreFormatError",
    "open_store",
    "parse_filename",
    "ExportReport",
    "Expected",
    "FetchFailed",
    "FetchResult",
    "SyncReport",
    "export_index",
    "fetch",
    "make_app",
    "nginx_server",
    "sync_mirror",
    "trusted_digests",
]
