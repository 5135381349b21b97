"""Reconstruction of evicted wheels: from the secondary caches first, then by rebuilding with the
recorded recipe. The bytes are accepted only when their digest equals the one the catalog kept.

:class:`casstore.WheelCache` runs one reconstruction per wheel at a time (:mod:`.singleflight`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..digest import hash_file
from ..errors import CasstoreError
from ..objects.disk import locked_temp_dir

if TYPE_CHECKING:
    from ..model import FileInfo
    from ..store.store import Store

__all__ = ["Rebuilder", "Reconstruction", "ReconstructionFailed", "obtain", "scratch"]


class Rebuilder(Protocol):
    """What the wheel cache needs to rebuild a wheel; the verifier's ``ZigRebuilder`` is one."""

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


def obtain(store: Store, info: FileInfo, recipe_record: Mapping[str, Any] | None, *, sources: Sequence[str],
           rebuilder: Rebuilder | None, workdir: Path) -> tuple[Path, str]:
    """Get the bytes of the evicted ``info`` into a file under ``workdir``: first from ``sources``
    (verified by the mirror client against the catalog's digests), then by rebuilding. Returns the
    path and how it was obtained; either way the bytes have the catalog's blake3 and sha256 (the mirror
    client checks both before it returns)."""
    reasons: list[str] = []
    if sources:
        from ..index.client import Expected, FetchFailed, fetch

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
    h = hash_file(path)
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
