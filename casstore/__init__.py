"""casstore: a content-addressed store for Python sdists and wheels.

The public API is what this module exports. The subpackages are the rooms it is built from
(docs/architecture.md): ``format`` (bytes ↔ recipes), ``objects`` and ``catalog`` (where bytes and
their meaning live), ``store`` (put/open/ls/rm/gc), ``cache`` (eviction and reconstruction),
``maintenance`` (fsck, repair, recovery), ``index`` (pages, server, export, mirrors) and ``cli``.
"""

from .cache import (
    Eligibility,
    EvictReport,
    Policy,
    ProjectReclaim,
    Rebuilder,
    Reconstruction,
    ReconstructionFailed,
    WheelCache,
    eligibility,
)
from .catalog import BaseCatalog, Catalog, CatalogUnavailable, open_catalog
from .digest import Digest, Hasher, hash_file
from .errors import (
    CasstoreError,
    ChecksumMismatch,
    Evicted,
    FileConflict,
    InvalidContent,
    InvalidDigest,
    InvalidFilename,
    NotFound,
    SameDistribution,
    StoreFormatError,
)
from .location import open_store
from .maintenance.fsck import fsck
from .model import FileInfo, FsckReport, GcReport, ProjectStats, Stats
from .names import DistName, parse_filename
from .objects import DiskObjects, MemoryObjects, ObjectStore
from .store import DEFAULT_GRACE, FORMAT_VERSION, InvalidRecord, Reviver, Store

__version__ = "0.1.0"

# The index server, static export and mirrors pull in a web stack; they load on first use, so that
# a plain store (a CLI put, a worker process) stays small and starts fast.
_LAZY = {
    "ExportReport": "index.export", "export_index": "index.export", "nginx_server": "index.export",
    "Expected": "index.client", "FetchFailed": "index.client", "FetchResult": "index.client",
    "fetch": "index.client", "trusted_digests": "index.client",
    "SyncReport": "index.mirror", "sync_mirror": "index.mirror",
    "make_app": "index.server", "running": "index.server",
    "RecoveryReport": "maintenance.recovery", "recover_catalog": "maintenance.recovery",
    "PostgresCatalog": "catalog.postgres", "S3Objects": "objects.s3",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'casstore' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"casstore.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_GRACE",
    "FORMAT_VERSION",
    "BaseCatalog",
    "CasstoreError",
    "Catalog",
    "CatalogUnavailable",
    "ChecksumMismatch",
    "Digest",
    "DiskObjects",
    "DistName",
    "Eligibility",
    "EvictReport",
    "Evicted",
    "Expected",
    "ExportReport",
    "FetchFailed",
    "FetchResult",
    "FileConflict",
    "FileInfo",
    "FsckReport",
    "GcReport",
    "Hasher",
    "InvalidContent",
    "InvalidDigest",
    "InvalidFilename",
    "InvalidRecord",
    "MemoryObjects",
    "NotFound",
    "ObjectStore",
    "Policy",
    "PostgresCatalog",
    "ProjectReclaim",
    "ProjectStats",
    "Rebuilder",
    "Reconstruction",
    "ReconstructionFailed",
    "RecoveryReport",
    "Reviver",
    "S3Objects",
    "SameDistribution",
    "Stats",
    "Store",
    "StoreFormatError",
    "SyncReport",
    "WheelCache",
    "eligibility",
    "export_index",
    "fetch",
    "fsck",
    "hash_file",
    "make_app",
    "nginx_server",
    "open_catalog",
    "open_store",
    "parse_filename",
    "recover_catalog",
    "running",
    "sync_mirror",
    "trusted_digests",
]
