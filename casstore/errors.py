"""The one exception root of casstore, and its subclasses.

Every error raised from this package's code is a :class:`CasstoreError`. Messages quote the bad
value; subclasses keep the values as fields so callers need not parse messages.
"""

from __future__ import annotations

__all__ = [
    "CasstoreError",
    "ChecksumMismatch",
    "Evicted",
    "FileConflict",
    "InvalidContent",
    "InvalidDigest",
    "InvalidFilename",
    "NotFound",
    "SameDistribution",
    "StoreFormatError",
]


class CasstoreError(Exception):
    """Root of every error raised from casstore's code."""


class InvalidDigest(CasstoreError, ValueError):
    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"Invalid digest ({reason}): {value!r}")


class InvalidFilename(CasstoreError, ValueError):
    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"Invalid distribution filename ({reason}): {filename!r}")


class InvalidContent(CasstoreError, ValueError):
    """The bytes do not match what the filename says they are."""

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"Refusing {filename!r}: {reason}")


class ChecksumMismatch(CasstoreError):
    """Bytes read back do not hash to the digest they are stored under."""

    def __init__(self, name: str, expected: str, actual: str) -> None:
        self.name = name
        self.expected = expected
        self.actual = actual
        super().__init__(f"Checksum mismatch for {name}: expected {expected}, got {actual}")


class NotFound(CasstoreError, KeyError):
    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)

    def __str__(self) -> str:
        return f"Not in the store: {self.what}"


class SameDistribution(CasstoreError):
    """Another spelling of a distribution already stored (``Foo_Bar-1.0-...`` beside ``foo_bar-1.0-...``):
    the index would list two files that pip and uv treat as one."""

    def __init__(self, filename: str, stored: str) -> None:
        self.filename = filename
        self.stored = stored
        super().__init__(f"{filename!r} names the same distribution as the stored {stored!r} "
                         "(project, version and tags normalize alike); refusing a second spelling")


class FileConflict(CasstoreError):
    """A filename already in the store with different bytes (files are immutable, as on PyPI)."""

    def __init__(self, filename: str, existing: str, new: str) -> None:
        self.filename = filename
        self.existing = existing
        self.new = new
        super().__init__(
            f"{filename!r} is already stored with {existing}; refusing different bytes {new}"
        )


class StoreFormatError(CasstoreError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"Not a usable casstore store at {path!r}: {reason}")


class Evicted(CasstoreError):
    """A file whose bytes were released (evicted) was read, and the store has no way to bring it back."""

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"{filename!r} is evicted and cannot be brought back here: {reason}")
