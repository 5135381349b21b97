"""Every disk write of casstore goes through here: temp file, fsync, rename, directory fsync."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write_bytes", "atomic_writer", "fsync_dir"]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(dest: Path, *, tmp_dir: Path | None = None, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Yield a file; on clean exit it is fsynced and renamed onto ``dest``; on error it is removed.

    ``dest`` never holds a partial file: readers see the old file or the whole new one.
    """
    directory = tmp_dir or dest.parent
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    with atomic_writer(dest) as f:
        f.write(data)
