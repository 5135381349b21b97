"""Eviction decisions: which wheels may go, and which should go under a policy. Pure code, no I/O.

A wheel is *evictable* only when (DESIGN.md, "Eviction and reconstruction"):

1. its bytes were reproduced by at least two independent rebuilds (builds that produced exactly its
   digest) under a recipe whose latest grade is reproducible;
2. the recipe's sdist and every pinned build dependency are in the store, and so is every input it names
   (a native library built for the target: a blob the recipe's owner keeps from gc);
3. the toolchain the recipe names is available to the rebuilder;
4. it has not been marked unrecoverable (a reconstruction of it once failed).

Otherwise eviction is refused and the reason is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MIN_REBUILDS", "Candidate", "Eligibility", "Policy", "eligibility", "plan"]

MIN_REBUILDS = 2


@dataclass(frozen=True, slots=True)
class Eligibility:
    filename: str
    evictable: bool
    reason: str  # why not, or which recipe makes it rebuildable
    recipe: dict[str, Any] | None = None
    recipe_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    filename: str
    project: str
    added: float
    downloads: int
    reclaimable: int  # stored bytes that only this file holds


@dataclass(frozen=True, slots=True)
class Policy:
    """What to evict. All given conditions must hold for a file; ``budget`` then stops early."""

    budget: int | None = None  # bring stored bytes at or under this
    projects: frozenset[str] = field(default_factory=frozenset)  # only these projects (empty: all)
    older_than: float | None = None  # only files added before this time
    max_downloads: int | None = None  # only files requested at most this many times
    # only files whose rebuilds were run on the target (every build's smoke import "ok"), not those checked
    # only structurally (macOS, Windows arm64: no runtime on the verifier's host)
    on_target: bool = False


def eligibility(
    filename: str,
    blake3: str,
    records: Iterable[Mapping[str, Any]],
    *,
    present: Callable[[str], bool],
    toolchain: Callable[[Mapping[str, Any]], str | None],
    unrecoverable: bool = False,
    input_present: Callable[[str], bool] | None = None,
) -> Eligibility:
    """Decide whether the wheel ``filename`` with digest ``blake3`` may be evicted.

    ``records`` are rebuild records (``casstore.verification/1`` JSON) oldest first; ``present``
    answers whether a file with a given ``blake3:`` digest is in the store; ``input_present`` whether a
    recipe's input (a blob, ``recipe["inputs"][i]["blake3"]``) is stored and kept from gc (default:
    ``present``); ``toolchain`` returns None when the recipe's toolchain is available, else why not.
    """
    has_input = input_present or present
    if unrecoverable:
        return Eligibility(filename, False, "marked unrecoverable: a reconstruction failed before")
    by_recipe: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by_recipe.setdefault(str(r.get("recipe_digest")), []).append(r)
    if not by_recipe:
        return Eligibility(filename, False, "no rebuild record")
    reasons = []
    for digest, recs in sorted(by_recipe.items()):
        latest = recs[-1]
        if latest.get("grade") != "reproducible":
            reasons.append(f"recipe {digest[:19]} is graded {latest.get('grade')}")
            continue
        matching = sum(
            1 for r in recs if r.get("grade") == "reproducible"
            for b in r.get("builds") or [] if b.get("wheel_blake3") == blake3
        )
        if matching < MIN_REBUILDS:
            reasons.append(f"recipe {digest[:19]}: {matching} rebuild(s) gave these bytes, {MIN_REBUILDS} needed")
            continue
        recipe = latest.get("recipe") or {}
        sdist = recipe.get("sdist_blake3")
        if not sdist or not present(str(sdist)):
            reasons.append(f"sdist {recipe.get('sdist_filename')!r} is not in the store")
            continue
        missing = [d.get("filename") for d in recipe.get("build_deps") or []
                   if not d.get("blake3") or not present(_prefixed(str(d["blake3"])))]
        if missing:
            reasons.append(f"build dependencies not in the store: {', '.join(map(str, missing))}")
            continue
        absent = [f"{i.get('name')} {i.get('version')}" for i in recipe.get("inputs") or []
                  if not i.get("blake3") or not has_input(_prefixed(str(i["blake3"])))]
        if absent:
            reasons.append(f"inputs not in the store: {', '.join(absent)}")
            continue
        why = toolchain(recipe)
        if why is not None:
            reasons.append(why)
            continue
        return Eligibility(filename, True, f"reproducible by recipe {digest}", dict(recipe), digest)
    return Eligibility(filename, False, "; ".join(reasons))


def ran_on_target(records: Iterable[Mapping[str, Any]], recipe_digest: str) -> bool:
    """Whether the latest record of `recipe_digest` imported every build on the target (smoke "ok"); a
    smoke test that was skipped ("skipped: …", no runtime here) or failed does not count."""
    latest = [r for r in records if str(r.get("recipe_digest")) == recipe_digest][-1:]
    return bool(latest) and all(b.get("smoke") == "ok" for b in latest[0].get("builds") or [{}])


def _prefixed(d: str) -> str:
    return d if d.startswith("blake3:") else f"blake3:{d}"


def plan(candidates: Sequence[Candidate], policy: Policy, stored_bytes: int) -> list[Candidate]:
    """Which evictable files to evict, in order: least requested first, then oldest, then largest."""
    chosen = []
    total = stored_bytes
    ordered = sorted(candidates, key=lambda c: (c.downloads, c.added, -c.reclaimable, c.filename))
    for c in ordered:
        if policy.budget is not None and total <= policy.budget:
            break
        if policy.projects and c.project not in policy.projects:
            continue
        if policy.older_than is not None and c.added >= policy.older_than:
            continue
        if policy.max_downloads is not None and c.downloads > policy.max_downloads:
            continue
        chosen.append(c)
        total -= c.reclaimable
    return chosen
