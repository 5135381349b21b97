"""Wheels as a cache: evicted when they can be brought back, brought back when they are read.

A :class:`WheelCache` wraps a :class:`casstore.Store` with the two things eviction needs — a
:class:`Rebuilder` and the secondary caches (``sources``: simple-index URLs) — and is the store's
:class:`casstore.Reviver`: a read of an evicted wheel tries the sources, then a rebuild by its recorded
recipe, and the bytes are kept only when their digest equals the recorded one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..model import FileInfo
from ..objects import DiskObjects
from ..store import Store
from . import evict as _evict
from .policy import Eligibility, Policy
from .reconstruct import Rebuilder, Reconstruction, ReconstructionFailed, obtain, scratch
from .singleflight import SingleFlight

__all__ = ["WheelCache"]


class WheelCache:
    """Eviction and reconstruction of ``store``'s wheels. ``rebuilder`` and ``sources`` bring evicted
    wheels back; ``workdir`` is where reconstructions run (default: the store's temp directory).

    The wheel cache is not the store's reviver until it is set as one: :meth:`attach` does both, and
    :func:`casstore.open_store` attaches one to every store it opens."""

    def __init__(self, store: Store, *, rebuilder: Rebuilder | None = None, sources: Sequence[str] = (),
                 workdir: Path | None = None) -> None:
        self.store = store
        self.rebuilder = rebuilder
        self.sources = tuple(sources)
        self.workdir = workdir
        self._flight = SingleFlight(_locks_dir(store))

    @classmethod
    def attach(cls, store: Store, **kw: Any) -> WheelCache:
        """A wheel cache over ``store``, set as its reviver (keywords as for the constructor)."""
        cache = cls(store, **kw)
        store.reviver = cache
        return cache

    # -- deciding -----------------------------------------------------------------------------

    def toolchain_problem(self, recipe: Mapping[str, Any]) -> str | None:
        """None when the rebuilder can rebuild ``recipe`` here, else why not."""
        if self.rebuilder is None:
            return "no rebuilder configured for this store (the verifier provides one)"
        check = getattr(self.rebuilder, "toolchain_problem", None)
        return check(recipe) if check is not None else None

    def evictable(self, ref: Any) -> Eligibility:
        """Whether a wheel may be evicted, and why (not)."""
        return _evict.evictable(self.store, ref, toolchain=self.toolchain_problem)

    def reclaimable(self) -> list[_evict.ProjectReclaim]:
        """Per project: stored bytes of present wheels and what evicting the evictable ones frees."""
        return _evict.reclaimable(self.store, toolchain=self.toolchain_problem)

    # -- doing --------------------------------------------------------------------------------

    def evict(self, refs: Sequence[Any] | None = None, *, policy: Policy | None = None,
              dry_run: bool = False) -> _evict.EvictReport:
        """Evict the named wheels, or those a ``policy`` picks among all evictable wheels.

        Refused wheels are listed with the reason and left alone. ``dry_run`` changes nothing."""
        return _evict.evict(self.store, refs, policy=policy, dry_run=dry_run, toolchain=self.toolchain_problem)

    def reconstruct(self, ref: Any) -> Reconstruction:
        """Bring an evicted wheel back (secondary caches, then a rebuild); a no-op if present.
        Concurrent calls for the same wheel do the work once."""
        store = self.store
        info = store.info(ref)
        t0 = time.monotonic()
        if info.state == "present":
            return Reconstruction(info.filename, "present", 0.0)
        with self._flight.hold(info.blake3):
            info = store.info(info.filename)
            if info.state == "present":  # someone else brought it back while we waited
                return Reconstruction(info.filename, "present", time.monotonic() - t0)
            row = store.catalog.file(info.filename) or {}
            recipe_digest = row.get("recipe_digest")
            records = store.rebuild_records(recipe_digest=recipe_digest) if recipe_digest else []
            with scratch(self.workdir or getattr(store.objects, "tmp", None)) as tmp:
                try:
                    path, how = obtain(store, info, records[-1] if records else None,
                                       sources=self.sources, rebuilder=self.rebuilder, workdir=Path(tmp))
                except ReconstructionFailed as e:
                    if e.recipe is not None or "rebuild" in e.reason:
                        store.mark_unrecoverable(info.filename, e.reason)
                    raise
                store.put(path, info.filename, origin=info.origin)
        return Reconstruction(info.filename, how, time.monotonic() - t0)

    def revive(self, store: Store, info: FileInfo) -> None:
        """The :class:`casstore.Reviver` protocol: what a read of an evicted wheel calls."""
        if store is not self.store:
            raise ValueError(f"this wheel cache belongs to {self.store!r}, not {store!r}")
        self.reconstruct(info.filename)


def _locks_dir(store: Store) -> Path | None:
    """Lock files live apart from tmp/: gc must never delete a lock another process holds."""
    if store.root is None or not isinstance(store.objects, DiskObjects):
        return None
    path = store.root / "locks"
    path.mkdir(exist_ok=True)
    return path
