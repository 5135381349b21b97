"""casstore: a content-addressed store for Python sdists and wheels.

The public API is what this module exports; everything in ``_``-modules is private.
"""

from ._catalog import BaseCatalog, Catalog, CatalogUnavailable, open_catalog
from ._digest import Digest, Hasher, hash_file
from ._errors import (
    CasstoreError,
    ChecksumMismatch,
    FileConflict,
    SameDistribution,
    InvalidContent,
    InvalidDigest,
    InvalidFilename,
    NotFound,
    StoreFormatError,
)
from ._evict import Eligibility, Policy, eligibility
from ._eviction import Evicted, EvictReport, ProjectReclaim
from ._model import FileInfo, FsckReport, GcReport, ProjectStats, Stats
from ._names import DistName, parse_filename
from ._objects import DiskObjects, MemoryObjects, ObjectStore
from ._open import open_store
from ._reconstruct import Rebuilder, Reconstruction, ReconstructionFailed
from ._records import InvalidRecord
from ._store import DEFAULT_GRACE, FORMAT_VERSION, Store

__version__ = "0.1.0"

# The index server, static export and mirrors pull in a web stack; they load on first use, so that
# a plain store (a CLI put, a worker process) stays small and starts fast.
_LAZY = {
    "ExportReport": "_export", "export_index": "_export", "nginx_server": "_export",
    "Expected": "_mirror", "FetchFailed": "_mirror", "FetchResult": "_mirror", "SyncReport": "_mirror",
    "fetch": "_mirror", "sync_mirror": "_mirror", "trusted_digests": "_mirror",
    "make_app": "_server",
    "RecoveryReport": "_repair", "recover_catalog": "_repair",
    "PostgresCatalog": "_catalog_pg", "S3Objects": "_s3",
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
    "SameDistribution",
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
    "S3Objects",
    "Stats",
    "Store",
    "StoreFormatError",
    "SyncReport",
    "eligibility",
    "export_index",
    "fetch",
    "hash_file",
    "make_app",
    "nginx_server",
    "open_catalog",
    "open_store",
    "parse_filename",
    "recover_catalog",
    "sync_mirror",
    "trusted_digests",
]
