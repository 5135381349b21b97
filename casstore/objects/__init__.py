"""Object stores: where compressed blob bytes live (a directory, memory, S3), behind one protocol."""

from .base import ObjectStat, ObjectStore, ObjectWriter
from .disk import DiskObjects
from .memory import MemoryObjects

__all__ = ["DiskObjects", "MemoryObjects", "ObjectStat", "ObjectStore", "ObjectWriter", "S3Objects"]


def __getattr__(name: str) -> object:
    if name == "S3Objects":  # boto3 is an optional dependency (casstore[s3]): loaded on first use
        from .s3 import S3Objects

        return S3Objects
    raise AttributeError(f"module 'casstore.objects' has no attribute {name!r}")
