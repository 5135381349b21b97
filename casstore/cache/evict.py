"""Evicting wheels: which may go (read from the catalog, decided by :mod:`.policy`), and letting them go.

Only the bytes go (:meth:`casstore.Store.release`): the row keeps the digests, the recipe and the
records; blobs that only the wheel held are collected by the next gc, shared blobs stay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..digest import Digest
from ..model import FileInfo
from ..store import Store
from . import policy as _policy

__all__ = ["EvictReport", "ProjectReclaim", "Toolchain", "evict", "evictable", "reclaimable"]

Toolchain = Callable[[Mapping[str, Any]], str | None]  # None when a recipe's toolchain is here, else why not


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


def _present(store: Store, digest: str) -> bool:
    hexd = digest.removeprefix("blake3:")
    return any(r.get("state", "present") == "present" for r in store.catalog.files_by_digest(hexd))


def _input_present(store: Store, digest: str) -> bool:
    """A recipe's input is a blob: present, and owned (so that no gc collects it after the wheel goes)."""
    d = Digest.parse(digest)
    return store.catalog.is_referenced(d.hex) and store.objects.exists(d)


def _records_for(store: Store, info: FileInfo) -> list[dict[str, Any]]:
    recipes = store.catalog.recipes_of_wheel(str(info.blake3))
    out: list[dict[str, Any]] = []
    for rd in sorted(recipes):
        out.extend(store.rebuild_records(recipe_digest=rd))
    return out


def evictable(store: Store, ref: Any, *, toolchain: Toolchain) -> _policy.Eligibility:
    """Whether a wheel may be evicted, and why (not)."""
    info = store.info(ref)
    if info.kind != "wheel":
        return _policy.Eligibility(info.filename, False, "only wheels are evicted (sdists are sources)")
    if info.state != "present":
        return _policy.Eligibility(info.filename, False, f"already {info.state}")
    row = store.catalog.file(info.filename) or {}
    return _policy.eligibility(
        info.filename, str(info.blake3), _records_for(store, info), present=lambda d: _present(store, d),
        toolchain=toolchain, unrecoverable=bool(row.get("unrecoverable")),
        input_present=lambda d: _input_present(store, d),
    )


def _reclaimable(store: Store, filename: str) -> int:
    return store.catalog.exclusive_stored_bytes(f"file:{filename}")


def reclaimable(store: Store, *, toolchain: Toolchain) -> list[ProjectReclaim]:
    """Per project: stored bytes of present wheels and what evicting the evictable ones frees."""
    acc: dict[str, list[int]] = {}
    for f in store.ls(kind="wheel"):
        if f.state != "present":
            continue
        a = acc.setdefault(f.project, [0, 0, 0, 0])
        a[0] += 1
        a[2] += f.stored_size
        if evictable(store, f.filename, toolchain=toolchain).evictable:
            a[1] += 1
            a[3] += _reclaimable(store, f.filename)
    rows = [ProjectReclaim(p, *v) for p, v in acc.items()]
    return sorted(rows, key=lambda r: (-r.reclaimable_bytes, r.project))


def evict(store: Store, refs: Sequence[Any] | None = None, *, policy: _policy.Policy | None = None,
          dry_run: bool = False, toolchain: Toolchain) -> EvictReport:
    """Evict the named wheels, or those a ``policy`` picks among all evictable wheels.

    Refused wheels are listed with the reason and left alone. ``dry_run`` changes nothing."""
    report = EvictReport(dry_run=dry_run, stored_before=store.stats().stored_bytes)
    files = [store.info(r) for r in refs] if refs is not None else store.ls(kind="wheel")
    downloads = store.downloads()
    candidates: list[_policy.Candidate] = []
    recipes: dict[str, str | None] = {}
    for f in files:
        e = evictable(store, f.filename, toolchain=toolchain)
        if e.evictable and policy is not None and policy.on_target and not _policy.ran_on_target(
                _records_for(store, store.info(f.filename)), str(e.recipe_digest)):
            e = _policy.Eligibility(f.filename, False, f"recipe {str(e.recipe_digest)[:19]} was not run on the target "
                                    "(checked structurally only), and the policy asks for it")
        if not e.evictable:
            if refs is not None or f.state == "present":
                report.refused.append((f.filename, e.reason))
            continue
        recipes[f.filename] = e.recipe_digest
        candidates.append(_policy.Candidate(f.filename, f.project, f.added, downloads.get(f.filename, 0),
                                            _reclaimable(store, f.filename)))
    chosen = _policy.plan(candidates, policy or _policy.Policy(), report.stored_before)
    for c in chosen:
        if not dry_run and not store.release(c.filename, recipe_digest=recipes[c.filename]):
            continue  # no longer present: evicted or removed meanwhile
        report.evicted.append((c.filename, c.reclaimable))
    return report
