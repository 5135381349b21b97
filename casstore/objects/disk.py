"""Objects in a directory: the embedded default.

Every object is written through a temp file, fsync and rename; adding an object that exists is a
no-op that refreshes its modification time (so a concurrent ``gc`` grace period protects it).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..digest import Digest
from ..errors import NotFound
from ..fsutil import fsync_dir
from .base import ObjectStat

__all__ = ["DiskObjects", "locked_temp_dir"]


class _DiskWriter:
    def __init__(self, store: DiskObjects) -> None:
        self._store = store
        batch_dir = getattr(store._local, "batch_dir", None)
        while True:
            fd, name = tempfile.mkstemp(prefix="obj-", dir=batch_dir or store.tmp)
            if batch_dir is not None:
                break  # the batch holds the lock of its directory
            fcntl.flock(fd, fcntl.LOCK_EX)  # in use: gc's temp cleaning skips it whatever its grace
            if os.fstat(fd).st_nlink:
                break
            os.close(fd)  # a gc removed it before we held the lock: take another
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._done = False

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)

    def commit(self, key: Digest) -> bool:
        self._file.flush()
        pending = self._store._pending()
        if pending is None:
            os.fsync(self._file.fileno())
        dest = self._store.path(key)
        self._done = True
        if dest.exists() or (pending is not None and key in pending):
            self._file.close()
            self._path.unlink()
            with contextlib.suppress(FileNotFoundError):
                os.utime(dest)
            return False
        os.chmod(self._path, 0o444)
        if pending is not None:  # made durable and visible together when the batch ends
            pending[key] = self._path
            self._file.close()
            return True
        try:
            return self._link(dest)
        finally:
            self._file.close()

    def _link(self, dest: Path) -> bool:
        dest.parent.mkdir(exist_ok=True)
        # link() fails if dest appeared meanwhile: two writers never overwrite each other.
        try:
            os.link(self._path, dest)
        except FileExistsError:
            self._path.unlink()
            os.utime(dest)
            return False
        self._path.unlink()
        fsync_dir(dest.parent)
        return True

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._file.close()
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()


class DiskObjects:
    """Objects as files ``objects/<2 hex>/<64 hex>`` below a root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.tmp = root / "tmp"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def _pending(self) -> dict[Digest, Path] | None:
        return getattr(self._local, "pending", None)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Objects written in the block become durable and visible together at its end: one
        ``syncfs`` for the data, the links, one ``syncfs`` for the names — instead of two fsyncs per
        object. An object is never visible under its digest before its bytes are on disk."""
        if self._pending() is not None:
            yield
            return
        batch_dir, lock_fd = locked_temp_dir(self.tmp, "batch-")  # first: if it fails, no state is left
        pending: dict[Digest, Path] = {}
        self._local.pending = pending
        self._local.batch_dir = batch_dir
        try:
            yield
            self._local.pending = None
            if pending:
                _syncfs(self.tmp)
                for key, tmp in pending.items():
                    dest = self.path(key)
                    dest.parent.mkdir(exist_ok=True)
                    try:
                        os.link(tmp, dest)
                    except FileExistsError:
                        os.utime(dest)
                _syncfs(self.objects)
        finally:
            self._local.pending = None
            self._local.batch_dir = None
            shutil.rmtree(batch_dir, ignore_errors=True)
            os.close(lock_fd)

    @contextlib.contextmanager
    def lease(self) -> Iterator[None]:
        """While the block runs, no gc (in any process, whatever its grace) deletes an object written
        after the lease began: a put holds one from its first blob to its catalog commit."""
        path, fd = locked_temp_dir(self.tmp, f"lease-{time.time_ns()}-")
        try:
            yield
        finally:
            shutil.rmtree(path, ignore_errors=True)
            os.close(fd)

    def oldest_lease(self) -> float | None:
        """When the oldest lease still held began (seconds since the epoch), or None."""
        oldest: int | None = None
        for entry in self.tmp.glob("lease-*"):
            try:
                ns = int(entry.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if (oldest is None or ns < oldest) and _held(entry):
                oldest = ns
        return None if oldest is None else oldest / 1e9

    def path(self, key: Digest) -> Path:
        return self.objects / key.hex[:2] / key.hex

    def exists(self, key: Digest) -> bool:
        pending = self._pending()
        return self.path(key).exists() or (pending is not None and key in pending)

    def _where(self, key: Digest) -> Path:
        pending = self._pending()
        if pending is not None and key in pending:
            return pending[key]
        return self.path(key)

    def writer(self) -> _DiskWriter:
        return _DiskWriter(self)

    def open(self, key: Digest) -> BinaryIO:
        try:
            return open(self._where(key), "rb")
        except FileNotFoundError:
            raise NotFound(f"object {key}") from None

    def stat(self, key: Digest) -> ObjectStat:
        try:
            st = self._where(key).stat()
        except FileNotFoundError:
            raise NotFound(f"object {key}") from None
        return ObjectStat(st.st_size, st.st_mtime)

    def delete(self, key: Digest) -> bool:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def keys(self) -> Iterator[Digest]:
        for sub in sorted(self.objects.iterdir()):
            if not sub.is_dir():
                continue
            for entry in sorted(sub.iterdir()):
                try:
                    key = Digest(entry.name)
                except ValueError:
                    continue
                if key.hex[:2] == sub.name:
                    yield key

    def clean_temp(self, older_than: float) -> int:
        removed = 0
        for entry in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.lstat().st_mtime < older_than and _remove_unless_in_use(entry):
                    removed += 1
        return removed

    def describe(self, key: Digest) -> str:
        return str(self.path(key))


def locked_temp_dir(parent: Path, prefix: str) -> tuple[Path, int]:
    """A new directory under ``parent`` and the descriptor holding its ``flock`` (close it to release):
    gc's temp cleaning leaves it alone while it is held, whatever the grace period."""
    while True:
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # a gc removed it before we could lock it: take another
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return path, fd
        except FileNotFoundError:
            pass
        os.close(fd)  # a gc removed it before we held the lock: take another


def _held(entry: Path) -> bool:
    """Whether another open file description holds the ``flock`` of ``entry``."""
    try:
        fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _remove_unless_in_use(entry: Path) -> bool:
    """Remove a temp file or scratch directory unless a process holds its ``flock`` (it is being
    written). The lock is held while removing, so its creator, locking it, finds it gone and retries."""
    try:
        fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # a symlink or unreadable: not ours to lock, remove it as before
        fd = -1
    try:
        if fd >= 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)  # a scratch directory (reconstruction, batch) left by a crash
        else:
            entry.unlink()
        return True
    finally:
        if fd >= 0:
            os.close(fd)


def _syncfs(directory: Path) -> None:
    """Flush the file system holding ``directory`` (Linux syncfs); os.sync() where it is missing."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _LIBC is None or _LIBC.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _load_libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.syncfs.argtypes = [ctypes.c_int]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


