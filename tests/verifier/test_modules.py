"""A rebuild's extension modules against the published wheel's (pure): missing ones make the result broken,
extra ones are noted, names are compared without their suffix, and no published wheel says so."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from verifier import Grade
from verifier.build.wheel import extension_module_names
from verifier.grading.modules import NOT_COMPARED, compare_modules, grade_with_modules

SUFFIX = ".cpython-311-x86_64-linux-gnu.so"
PUB = "pyyaml-6.0.4-cp311-cp311-manylinux2014_x86_64.whl"


def test_a_missing_module_makes_any_grade_broken_with_a_reason_naming_it() -> None:
    check = compare_modules([], ["yaml._yaml"], PUB)
    assert check.missing == ["yaml._yaml"] and check.extra == []
    for g in Grade:
        got, reasons = grade_with_modules(g, ["2 builds, all blake3:x"], check)
        assert got is Grade.BROKEN
        assert reasons[0] == f"the rebuilt wheel lacks extension modules {PUB} has: yaml._yaml"
        assert reasons[1:] == ["2 builds, all blake3:x"]


def test_extra_modules_are_noted_and_keep_the_grade() -> None:
    check = compare_modules(["yaml._probe", "yaml._yaml"], ["yaml._yaml"], PUB)
    assert check.missing == [] and check.extra == ["yaml._probe"]
    got, reasons = grade_with_modules(Grade.REPRODUCIBLE, ["2 builds, all blake3:x"], check)
    assert got is Grade.REPRODUCIBLE
    assert reasons == ["2 builds, all blake3:x",
                       f"the rebuilt wheel has every extension module of {PUB} and more: yaml._probe (noted, not broken)"]


def test_the_same_modules_change_nothing() -> None:
    check = compare_modules(["PIL._imaging", "PIL._imagingft"], ["PIL._imagingft", "PIL._imaging"], "p.whl")
    assert check.summary == "the same 2 extension module(s) as p.whl"
    assert grade_with_modules(Grade.REPEATABLE, ["r"], check) == (Grade.REPEATABLE, ["r"])


def test_without_a_published_wheel_the_record_says_not_compared() -> None:
    check = compare_modules(["yaml._yaml"], None)
    assert check.summary == NOT_COMPARED == "not compared with a published wheel"
    assert check.published_wheel is None and check.missing == [] and check.extra == []
    assert grade_with_modules(Grade.REPRODUCIBLE, ["r"], check) == (Grade.REPRODUCIBLE, ["r"])
    # a published wheel but no rebuilt wheel: nothing to compare, and no reason added to the failed builds'
    none_built = compare_modules(None, ["yaml._yaml"], PUB)
    assert none_built.summary == f"not compared with {PUB}: no build made a wheel" and not none_built.missing


def test_module_names_drop_the_suffix_and_skip_vendored_libraries() -> None:
    members = ["PIL/_imaging" + SUFFIX, "PIL/_webp.abi3.so", "pillow.libs/libjpeg-6dc8d115.so.62.4.0",
               "PIL/Image.py", "x-1.0.data/purelib/y" + SUFFIX, "ujson" + SUFFIX]
    assert extension_module_names(members, SUFFIX) == ["PIL._imaging", "PIL._webp", "ujson"]


_ident = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
_module = st.lists(_ident, min_size=1, max_size=3).map(".".join)


@given(st.sets(_module, max_size=6), st.sets(_module, max_size=6), st.data())
def test_modules_compare_by_name_whatever_their_suffix(rebuilt: set[str], published: set[str],
                                                       data: st.DataObject) -> None:
    def members(mods: set[str]) -> list[str]:
        return [m.replace(".", "/") + data.draw(st.sampled_from([SUFFIX, ".abi3.so"])) for m in sorted(mods)]

    check = compare_modules(extension_module_names(members(rebuilt), SUFFIX),
                            extension_module_names(members(published), SUFFIX), PUB)
    assert set(check.missing) == published - rebuilt and set(check.extra) == rebuilt - published
    got, reasons = grade_with_modules(Grade.REPRODUCIBLE, [], check)
    assert (got is Grade.BROKEN) == bool(published - rebuilt)
    if published - rebuilt:
        assert all(m in reasons[0] for m in published - rebuilt)
