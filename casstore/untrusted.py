"""Reading untrusted archives: tar headers with bounded memory, and what zipfile/tarfile may raise.

:mod:`tarfile` reads a GNU long-name or pax extended header with one ``read(size)`` of the size the
header declares, and collects sparse maps of any length: a few KB of gzip can make it allocate
gigabytes. :class:`BoundedTarInfo` (pass it as ``tarinfo=`` to :func:`tarfile.open`) refuses such
headers beyond :data:`MAX_HEADER` bytes and refuses sparse members (no sdist has them) before
``tarfile`` reads them. Iterate with :func:`members`, which does not keep every header in memory.
"""

from __future__ import annotations

import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

__all__ = ["ARCHIVE_ERRORS", "MAX_HEADER", "BoundedTarInfo", "members"]

# What zipfile and tarfile raise on damaged or hostile input, besides their own errors: a name that
# is not UTF-8 (UnicodeDecodeError, a ValueError), an unknown method (NotImplementedError), an
# encrypted member (RuntimeError), a cut stream (EOFError, zlib.error), a bad number (struct.error).
ARCHIVE_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, tarfile.TarError, ValueError, EOFError, NotImplementedError, RuntimeError, OSError,
    zlib.error, lzma.LZMAError, struct.error)

MAX_HEADER = 256 * 1024  # a pax or GNU long-name header larger than this is refused (real ones: < 8 KiB)

_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
             tarfile.SOLARIS_XHDTYPE)


class BoundedTarInfo(tarfile.TarInfo):
    """A :class:`tarfile.TarInfo` that refuses oversized extended headers and sparse members.

    The refusals raise :class:`tarfile.ReadError` (tarfile would treat a ``HeaderError`` past the
    first member as the end of the archive and silently drop the rest)."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> Any:
        if self.type in _EXTENDED and self.size > MAX_HEADER:
            raise tarfile.ReadError(f"extended header of {self.size} bytes at offset {self.offset}")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise tarfile.ReadError(f"sparse member {self.name!r}")
        return super()._proc_member(tarfile_)  # type: ignore[misc]

    def _proc_gnusparse_10(self, next: Any, pax_headers: Any, tarfile_: Any) -> None:
        raise tarfile.ReadError(f"sparse member {next.name!r} (GNU sparse 1.0)")


def members(tf: tarfile.TarFile, limit: int) -> Iterator[tarfile.TarInfo]:
    """The members of ``tf`` one by one, forgetting each after it is yielded (``tf.getmembers()``
    keeps them all); more than ``limit`` members raise :class:`tarfile.ReadError`."""
    count = 0
    while True:
        m = tf.next()
        if m is None:
            return
        count += 1
        if count > limit:
            raise tarfile.ReadError(f"more than {limit} members")
        tf.members.clear()  # type: ignore[attr-defined]  # tarfile's own list: forget what was yielded
        yield m
