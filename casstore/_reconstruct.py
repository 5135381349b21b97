"""Reconstruction of evicted wheels: from the secondary caches first, then by rebuilding with the
recorded recipe. The bytes are accepted only when their digest equals the one the catalog kept.

Concurrent requests for one wheel trigger one reconstruction: a per-digest lock inside the process
(threads of a server) and an ``fcntl`` lock file beside the store's temp files (other processes).
Whoever gets the lock second finds the wheel present and reads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._digest import Digest, Hasher
from ._errors import CasstoreError
from ._objects import locked_temp_dir

if TYPE_CHECKING:
    from ._model import FileInfo
    from ._store import Store

__all__ = ["Rebuilder", "Reconstruction", "ReconstructionFailed", "SingleFlight"]


class Rebuilder(Protocol):
    """What the store needs to rebuild a wheel; the verifier's ``ZigRebuilder`` is one."""

    def rebuild(self, store: Any, recipe: dict[str, Any], dest_dir: Path) -> Path:
        """Build the wheel of ``recipe`` (a ``casstore.verification/1`` recipe) into ``dest_dir``."""
        ...


class ReconstructionFailed(CasstoreError):
    """An evicted wheel could not be brought back; names the file, the recipe and the log."""

    def __init__(self, filename: str, recipe: str | None, reason: str, log: str | None = None) -> None:
        self.filename = filename
        self.recipe = recipe
        self.reason = reason
        self.log = log
        where = f"; log: {log}" if log else ""
        super().__init__(f"Cannot reconstruct {filename!r} (recipe {recipe}): {reason}{where}")


@dataclass(frozen=True, slots=True)
class Reconstruction:
    filename: str
    how: str  # "present" (someone else did it), "mirror:<url>" or "rebuilt"
    seconds: float


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


def _hashed(path: Path) -> Hasher:
    h = Hasher()
    with open(path, "rb") as f:
        h.consume(f)
    return h


def obtain(store: Store, info: FileInfo, recipe_record: Mapping[str, Any] | None, *, sources: Sequence[str],
           rebuilder: Rebuilder | None, workdir: Path) -> tuple[Path, str]:
    """Get the bytes of the evicted ``info`` into a file under ``workdir``: first from ``sources``
    (verified by the mirror client against the catalog's digests), then by rebuilding. Returns the
    path and how it was obtained; either way the bytes have the catalog's blake3 and sha256 (the mirror
    client checks both before it returns)."""
    reasons: list[str] = []
    if sources:
        from ._mirror import Expected, FetchFailed, fetch

        expected = Expected(info.filename, info.sha256, info.blake3, info.size)
        try:
            got = fetch(info.filename, sources, expected=expected, dest=workdir / "fetched")
            return got.path, f"mirror:{got.source}"
        except FetchFailed as e:
            reasons.append(str(e))
    recipe_digest = str(recipe_record.get("recipe_digest")) if recipe_record else None
    if rebuilder is None:
        reasons.append("no rebuilder configured")
        raise ReconstructionFailed(info.filename, recipe_digest, "; ".join(reasons))
    if recipe_record is None:
        raise ReconstructionFailed(info.filename, None, "no rebuild record for this wheel")
    try:
        path = rebuilder.rebuild(store, dict(recipe_record["recipe"]), workdir / "rebuilt")
    except Exception as e:  # the rebuilder's errors are not ours; keep its message and log
        log = getattr(e, "log", None)
        raise ReconstructionFailed(info.filename, recipe_digest, f"rebuild failed: {e}",
                                   str(log) if log else None) from e
    h = _hashed(path)
    if h.digest() != info.blake3 or h.sha256() != info.sha256:
        raise ReconstructionFailed(info.filename, recipe_digest,
                                   f"rebuilt bytes hash to {h.digest()}, the catalog recorded {info.blake3}",
                                   str(path))
    return path, "rebuilt"


@contextlib.contextmanager
def scratch(base: Path | None) -> Iterator[str]:
    """A throw-away directory for one reconstruction; below a store's tmp/ it is locked while in use,
    so a concurrent gc (whatever its grace) does not remove it."""
    if base is None:
        with tempfile.TemporaryDirectory(prefix="reconstruct-") as d:
            yield d
        return
    path, fd = locked_temp_dir(Path(base), "reconstruct-")
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)
