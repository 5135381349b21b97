"""Grading, pure: build outcomes in, a grade and its reasons out (definitions in DESIGN.md, "Grades")."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BuildOutcome", "Grade", "grade"]


class Grade(str, enum.Enum):
    REPRODUCIBLE = "reproducible"
    REPEATABLE = "repeatable"
    BROKEN = "broken"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class BuildOutcome:
    """What grading needs to know about one build."""

    name: str
    ok: bool  # built, right tags, auditwheel agrees, smoke import passed
    infra_failure: bool = False  # failed for reasons that are not the package's (timeout, missing tool)
    failure: str | None = None
    digest: str | None = None  # of the wheel
    members: frozenset[str] | None = None  # member names of the wheel


def grade(outcomes: Sequence[BuildOutcome], stored_digest: str | None = None) -> tuple[Grade, list[str]]:
    """Grade one (sdist, target, recipe) from its builds; `stored_digest` is the wheel already on record."""
    broken = [o for o in outcomes if not o.ok and not o.infra_failure]
    if broken:
        return Grade.BROKEN, [f"build {o.name!r} failed: {o.failure}" for o in broken]
    infra = [o for o in outcomes if o.infra_failure]
    if infra:
        return Grade.INCONCLUSIVE, [f"build {o.name!r} could not run: {o.failure}" for o in infra]
    if len(outcomes) < 2:
        return Grade.INCONCLUSIVE, [f"{len(outcomes)} build(s); grading needs at least two"]
    member_sets = {o.members for o in outcomes}
    if len(member_sets) > 1:
        return Grade.BROKEN, ["builds differ in which files they contain"]
    digests = {o.digest for o in outcomes}
    if len(digests) > 1:
        return Grade.REPEATABLE, [f"{len(digests)} different wheels from {len(outcomes)} builds"]
    (digest,) = digests
    if stored_digest is not None and digest != stored_digest:
        return Grade.REPEATABLE, [f"builds agree on {digest} but the stored wheel for this recipe is {stored_digest}"]
    return Grade.REPRODUCIBLE, [f"{len(outcomes)} builds, all {digest}"]
