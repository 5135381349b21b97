"""One reconstruction per digest at a time, across threads and processes.

A per-digest lock inside the process (threads of a server) and an ``fcntl`` lock file in the store's
``locks/`` directory (other processes). Whoever gets the lock second finds the wheel present.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

from ..digest import Digest

__all__ = ["SingleFlight"]


class SingleFlight:
    """One reconstruction per digest at a time, across threads and processes."""

    def __init__(self, lock_dir: Path | None) -> None:
        self._dir = lock_dir
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextlib.contextmanager
    def hold(self, digest: Digest) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(digest.hex, threading.Lock())
        with lock:
            if self._dir is None:
                yield
                return
            path = self._dir / f"reconstruct-{digest.hex}.lock"
            with open(path, "a+b") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
