"""A rebuild's extension modules against the published wheel's, pure (issue 15, item 4).

A rebuild can succeed, import, and even be bit-identical twice, and still lack an extension module the
wheel on the index has: an optional extension skipped because a native library was not there (pyyaml
without libyaml builds no `yaml._yaml` and falls back to pure Python), an accelerator left out. Such a
result is **broken**, never reproducible: it is not the wheel users get. Names are compared as dotted
module names without their suffix (`yaml._yaml`, whether the file is `.cpython-311-x86_64-linux-gnu.so`
or `.abi3.so`). A module only the rebuild has is **noted** in the reasons and does not change the grade:
every module users import from the published wheel is there, and the rebuild's smoke test imported the
extra one (a rebuild that builds an optional accelerator the publisher skipped is still that wheel and more).
Without a published wheel for the same version and tags, the record says "not compared with a published
wheel"."""

from __future__ import annotations

from collections.abc import Iterable

from ..record import ModuleCheck
from .grades import Grade

__all__ = ["NOT_COMPARED", "compare_modules", "grade_with_modules"]

NOT_COMPARED = "not compared with a published wheel"


def _names(mods: Iterable[str]) -> str:
    return ", ".join(mods)


def compare_modules(rebuilt: Iterable[str] | None, published: Iterable[str] | None,
                    published_wheel: str | None = None) -> ModuleCheck:
    """Compare dotted module names (pure). `published` None: no published wheel is known; `rebuilt` None:
    no build made a wheel."""
    if published is None:
        return ModuleCheck(NOT_COMPARED)
    pub = sorted(set(published))
    if rebuilt is None:
        return ModuleCheck(f"not compared with {published_wheel or 'the published wheel'}: no build made a wheel",
                           published_wheel, [], pub)
    reb = sorted(set(rebuilt))
    missing = sorted(set(pub) - set(reb))
    extra = sorted(set(reb) - set(pub))
    name = published_wheel or "the published wheel"
    if missing:
        summary = f"the rebuilt wheel lacks extension modules {name} has: {_names(missing)}"
    elif extra:
        summary = f"the rebuilt wheel has every extension module of {name} and more: {_names(extra)}"
    else:
        summary = f"the same {len(pub)} extension module(s) as {name}"
    return ModuleCheck(summary, published_wheel, reb, pub, missing, extra)


def grade_with_modules(g: Grade, reasons: list[str], check: ModuleCheck) -> tuple[Grade, list[str]]:
    """The grade once the module check is in (pure): missing modules make any grade broken, their reason
    first; extra modules add a reason and keep the grade."""
    if check.missing:
        return Grade.BROKEN, [check.summary, *reasons]
    if check.extra:
        return g, [*reasons, f"{check.summary} (noted, not broken)"]
    return g, list(reasons)
