"""The CPython version a build is for, from the sdist's Requires-Python (pure; and a crafted sdist)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet

from verifier import HOST_PYTHON, PYTHONS, InvalidPython, PythonExcluded, choose_python

HERE = ("3.11", "3.13")


def test_no_requires_python_is_the_host() -> None:
    assert choose_python(None, available=HERE, host="3.11") == "3.11"
    assert choose_python("", available=HERE, host="3.11") == "3.11"


def test_the_host_when_allowed() -> None:
    assert choose_python(">=3.8", available=HERE, host="3.11") == "3.11"


def test_the_newest_allowed_when_the_host_is_excluded() -> None:
    assert choose_python(">=3.12", available=HERE, host="3.11") == "3.13"
    assert choose_python(">=3.12", available=("3.11", "3.12", "3.13"), host="3.11") == "3.13"
    assert choose_python("<3.13,>=3.12", available=("3.11", "3.12", "3.13"), host="3.11") == "3.12"


def test_none_allowed_names_the_versions_here() -> None:
    with pytest.raises(PythonExcluded) as e:
        choose_python(">=3.14", available=HERE, host="3.11")
    assert str(e.value) == "Requires-Python >=3.14 allows none of the CPython versions here (3.11, 3.13)"
    assert e.value.requires == ">=3.14" and e.value.versions == ["3.11", "3.13"]


def test_an_explicit_version_is_kept_when_allowed_and_refused_when_not() -> None:
    assert choose_python(">=3.8", "3.13", available=HERE, host="3.11") == "3.13"
    with pytest.raises(PythonExcluded, match=r"excludes the requested CPython 3.11 \(3.11, 3.13\)"):
        choose_python(">=3.12", "3.11", available=HERE, host="3.11")
    with pytest.raises(InvalidPython):
        choose_python(None, "2.7", available=HERE, host="3.11")


def test_an_invalid_specifier_constrains_nothing() -> None:
    assert choose_python(">=3.8,<<4", available=HERE, host="3.11") == "3.11"


def test_the_default_versions_are_the_verifiers() -> None:
    assert choose_python(None) == HOST_PYTHON
    with pytest.raises(PythonExcluded) as e:
        choose_python(">=4")
    assert e.value.versions == sorted(PYTHONS, key=lambda v: tuple(map(int, v.split("."))))


_versions = st.lists(st.sampled_from(["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]), min_size=1,
                     unique=True)
_specifier = st.builds(lambda op, minor: f"{op}3.{minor}", st.sampled_from([">=", "<=", ">", "<", "==", "!="]),
                       st.integers(7, 15))
_specifiers = st.lists(_specifier, max_size=3).map(",".join)


@given(_specifiers, _versions, st.data())
def test_the_choice_is_allowed_and_preferred(spec: str, versions: list[str], data: st.DataObject) -> None:
    host = data.draw(st.sampled_from(versions))
    allowed = [v for v in versions if SpecifierSet(spec).contains(v, prereleases=True)]
    try:
        got = choose_python(spec, available=versions, host=host)
    except PythonExcluded:
        assert not allowed
        return
    assert got in allowed
    if host in allowed:
        assert got == host
    else:
        assert got == max(allowed, key=lambda v: tuple(map(int, v.split("."))))
