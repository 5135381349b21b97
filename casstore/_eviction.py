"""Eviction and reconstruction on the store: wheels as a cache.

The decisions are made by :mod:`casstore._evict` (pure); this module reads what they need from the
catalog, applies them in write transactions, and brings evicted wheels back through
:mod:`casstore._reconstruct`. Only the bytes go: the row keeps the digests, the recipe and the
records; blobs that only the wheel held are collected by the next gc, shared blobs stay.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _evict, _repair
from ._errors import CasstoreError
from ._model import FileInfo
from ._reconstruct import Reconstruction, ReconstructionFailed, obtain, scratch

if TYPE_CHECKING:
    from ._catalog import BaseCatalog
    from ._reconstruct import Rebuilder, SingleFlight

__all__ = ["EvictReport", "Evicted", "EvictionMixin", "ProjectReclaim"]


class Evicted(CasstoreError):
    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        super().__init__(f"{filename!r} is evicted and cannot be brought back here: {reason}")


@dataclass(slots=True)
class EvictReport:
    dry_run: bool
    evicted: list[tuple[str, int]] = field(default_factory=list)  # (filename, bytes freed by the next gc)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (filename, why not)
    stored_before: int = 0

    @property
    def freed_bytes(self) -> int:
        return sum(n for _, n in self.evicted)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["freed_bytes"] = self.freed_bytes
        return d


@dataclass(frozen=True, slots=True)
class ProjectReclaim:
    project: str
    wheels: int
    evictable: int
    stored_bytes: int  # of its present wheels
    reclaimable_bytes: int  # what evicting every evictable wheel would free


class EvictionMixin:
    """Store methods for eviction and reconstruction (mixed into :class:`Store`)."""

    catalog: BaseCatalog
    rebuilder: Rebuilder | None
    sources: tuple[str, ...]
    _flight: SingleFlight
    _workdir: Path | None
    _clock: Any

    # provided by Store
    def info(self, ref: Any) -> FileInfo: raise NotImplementedError
    def ls(self, project: str | None = None, version: str | None = None, kind: str | None = None) -> list[FileInfo]:
        raise NotImplementedError
    def put(self, source: Any, filename: str | None = None, *, origin: str = "uploaded") -> FileInfo:
        raise NotImplementedError
    def stats(self) -> Any: raise NotImplementedError

    # -- deciding -----------------------------------------------------------------------------

    def _present(self, digest: str) -> bool:
        hexd = digest.removeprefix("blake3:")
        return any(r.get("state", "present") == "present" for r in self.catalog.files_by_digest(hexd))

    def _toolchain(self, recipe: Any) -> str | None:
        if self.rebuilder is None:
            return "no rebuilder configured for this store (the verifier provides one)"
        check = getattr(self.rebuilder, "toolchain_problem", None)
        return check(recipe) if check is not None else None

    def _records_for(self, info: FileInfo) -> list[dict[str, Any]]:
        digest = str(info.blake3)
        recipes = self.catalog.recipes_of_wheel(digest)
        out: list[dict[str, Any]] = []
        for rd in sorted(recipes):
            out.extend(self.rebuild_records(recipe_digest=rd))  # type: ignore[attr-defined]
        return out

    def evictable(self, ref: Any) -> _evict.Eligibility:
        """Whether a wheel may be evicted, and why (not)."""
        info = self.info(ref)
        if info.kind != "wheel":
            return _evict.Eligibility(info.filename, False, "only wheels are evicted (sdists are sources)")
        if info.state != "present":
            return _evict.Eligibility(info.filename, False, f"already {info.state}")
        row = self.catalog.file(info.filename) or {}
        return _evict.eligibility(
            info.filename, str(info.blake3), self._records_for(info), present=self._present,
            toolchain=self._toolchain, unrecoverable=bool(row.get("unrecoverable")),
        )

    def _reclaimable(self, filename: str) -> int:
        return self.catalog.exclusive_stored_bytes(f"file:{filename}")

    def reclaimable(self) -> list[ProjectReclaim]:
        """Per project: stored bytes of present wheels and what evicting the evictable ones frees."""
        acc: dict[str, list[int]] = {}
        for f in self.ls(kind="wheel"):
            if f.state != "present":
                continue
            a = acc.setdefault(f.project, [0, 0, 0, 0])
            a[0] += 1
            a[2] += f.stored_size
            if self.evictable(f.filename).evictable:
                a[1] += 1
                a[3] += self._reclaimable(f.filename)
        rows = [ProjectReclaim(p, *v) for p, v in acc.items()]
        return sorted(rows, key=lambda r: (-r.reclaimable_bytes, r.project))

    # -- doing --------------------------------------------------------------------------------

    def evict(self, refs: list[Any] | None = None, *, policy: _evict.Policy | None = None,
              dry_run: bool = False) -> EvictReport:
        """Evict the named wheels, or those a ``policy`` picks among all evictable wheels.

        Refused wheels are listed with the reason and left alone. ``dry_run`` changes nothing."""
        report = EvictReport(dry_run=dry_run, stored_before=self.stats().stored_bytes)
        files = [self.info(r) for r in refs] if refs is not None else self.ls(kind="wheel")
        downloads = self.downloads()  # type: ignore[attr-defined]
        candidates: list[_evict.Candidate] = []
        recipes: dict[str, str | None] = {}
        for f in files:
            e = self.evictable(f.filename)
            if not e.evictable:
                if refs is not None or f.state == "present":
                    report.refused.append((f.filename, e.reason))
                continue
            recipes[f.filename] = e.recipe_digest
            candidates.append(_evict.Candidate(f.filename, f.project, f.added, downloads.get(f.filename, 0),
                                               self._reclaimable(f.filename)))
        chosen = _evict.plan(candidates, policy or _evict.Policy(), report.stored_before)
        for c in chosen:
            if not dry_run:
                with self.catalog.write():
                    row = self.catalog.file(c.filename)
                    if row is None or row.get("state") != "present":
                        continue
                    self.catalog.drop_refs(f"file:{c.filename}")
                    self.catalog.set_file(c.filename, state="evicted", recipe_digest=recipes[c.filename],
                                          stored_size=0, manifest=None)
                    # Written inside the transaction: a gc cannot take it before the ref commits.
                    rec, size, stored = _repair.write_record(self, {  # type: ignore[arg-type]
                        **row, "state": "evicted", "recipe_digest": recipes[c.filename], "manifest": None})
                    self.catalog.add_blob(rec.hex, size, stored)
                    self.catalog.add_ref(f"file:{c.filename}", rec.hex)
            report.evicted.append((c.filename, c.reclaimable))
        return report

    def reconstruct(self, ref: Any) -> Reconstruction:
        """Bring an evicted wheel back (secondary caches, then a rebuild); a no-op if present.
        Concurrent calls for the same wheel do the work once."""
        info = self.info(ref)
        t0 = time.monotonic()
        if info.state == "present":
            return Reconstruction(info.filename, "present", 0.0)
        with self._flight.hold(info.blake3):
            info = self.info(info.filename)
            if info.state == "present":  # someone else brought it back while we waited
                return Reconstruction(info.filename, "present", time.monotonic() - t0)
            row = self.catalog.file(info.filename) or {}
            recipe_digest = row.get("recipe_digest")
            records = self.rebuild_records(recipe_digest=recipe_digest) if recipe_digest else []  # type: ignore[attr-defined]
            with scratch(self._workdir or getattr(getattr(self, "objects", None), "tmp", None)) as tmp:
                try:
                    path, how = obtain(self, info, records[-1] if records else None,  # type: ignore[arg-type]
                                       sources=self.sources, rebuilder=self.rebuilder, workdir=Path(tmp))
                except ReconstructionFailed as e:
                    if e.recipe is not None or "rebuild" in e.reason:
                        with self.catalog.write():
                            self.catalog.set_file(info.filename, unrecoverable=e.reason[:500])
                    raise
                self.put(path, info.filename, origin=info.origin)
        return Reconstruction(info.filename, how, time.monotonic() - t0)

