"""Hostile and ambiguous distribution filenames: refused or normalized per the PyPA specs, never a path."""

from __future__ import annotations

import io
import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from casstore import Store
from casstore.errors import InvalidFilename
from casstore.names import DistName, parse_filename

from .conftest import make_sdist, make_wheel

# -- round trips ------------------------------------------------------------------------------------

# A project name as the wheel spec writes it in filenames: runs of -_. escaped to one "_".
escaped_names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9]|_(?=[A-Za-z0-9])){0,20}", fullmatch=True)
# A PEP 508 name as legacy sdists spell it (any single separator between alphanumerics).
sdist_names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9]|[._-](?=[A-Za-z0-9])){0,20}", fullmatch=True)
versions = st.builds(
    lambda epoch, rel, pre, post, dev, local: (f"{epoch}!" if epoch else "") + ".".join(map(str, rel))
    + (f"{pre[0]}{pre[1]}" if pre else "") + (f".post{post}" if post is not None else "")
    + (f".dev{dev}" if dev is not None else "") + (f"+{local}" if local else ""),
    st.integers(0, 3), st.lists(st.integers(0, 999), min_size=1, max_size=4),
    st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 20)),
    st.none() | st.integers(0, 9), st.none() | st.integers(0, 9),
    st.none() | st.from_regex(r"[a-z0-9]{1,5}(\.[a-z0-9]{1,5}){0,2}", fullmatch=True))
builds = st.none() | st.from_regex(r"[0-9]{1,3}[a-z]{0,6}", fullmatch=True)
tag_parts = st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True)
tag_sets = st.lists(tag_parts, min_size=1, max_size=3, unique=True)
# Interpreter tags are identifiers (packaging >= 26.3 refuses 'py' tags such as '0').
python_tags = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True), min_size=1, max_size=3, unique=True)


@given(name=escaped_names, version=versions, build=builds, pys=python_tags, abis=tag_sets, plats=tag_sets)
@settings(max_examples=150)
def test_wheel_filename_round_trip(name: str, version: str, build: str | None, pys: list[str], abis: list[str],
                                   plats: list[str]) -> None:
    filename = "-".join([name, version, *([build] if build else []), ".".join(pys), ".".join(abis),
                         ".".join(plats)]) + ".whl"
    if len(filename) > 255:
        with pytest.raises(InvalidFilename, match="longer than 255"):
            parse_filename(filename)
        return
    d = parse_filename(filename)
    # A build tag is a number and a string (PEP 427): "007b" sorts, and is kept, as 7 and "b".
    number, letters = (re.fullmatch(r"([0-9]+)(.*)", build).groups() if build else ("", ""))  # type: ignore[union-attr]
    assert d == DistName(filename, "wheel", canonicalize_name(name), str(Version(version)),
                         tuple(sorted(f"{p}-{a}-{x}" for p in pys for a in abis for x in plats)),
                         f"{int(number)}{letters}" if build else "")
    assert parse_filename(d.filename) == d


@given(name=sdist_names, version=versions, ext=st.sampled_from([".tar.gz", ".zip"]))
@settings(max_examples=150)
def test_sdist_filename_round_trip(name: str, version: str, ext: str) -> None:
    filename = f"{name}-{version}{ext}"
    if len(filename) > 255:
        return
    d = parse_filename(filename)
    assert (d.kind, d.project, d.version, d.tags, d.build) == (
        "sdist", canonicalize_name(name), str(Version(version)), (), "")


_URL_SAFE = set(string.ascii_letters + string.digits + "._+!-")


@given(st.text(max_size=300) | st.text(alphabet="abcAB01._-+!/\\\x00 .whltargz", max_size=80))
@settings(max_examples=1000)
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        d = parse_filename(text)
    except InvalidFilename as e:
        assert repr(text) in str(e)  # the message quotes the bad name
        return
    # What is accepted is one plain, URL- and path-safe component.
    assert set(d.filename) <= _URL_SAFE and not d.filename.startswith(".") and d.filename not in (".", "..")
    assert len(d.filename.encode()) <= 255
    assert d.project == canonicalize_name(d.project, validate=True)
    assert parse_filename(d.filename) == d


# -- named hostile cases ----------------------------------------------------------------------------

@pytest.mark.parametrize(("filename", "reason"), [
    ("", "empty"),
    ("..", "empty"),
    ("../evil-1.0.tar.gz", "path separator"),
    ("/etc/evil-1.0.tar.gz", "path separator"),
    ("a\\b-1.0.tar.gz", "path separator"),
    ("evil-1.0.tar.gz\x00.whl", "NUL"),
    (".evil-1.0.tar.gz", "starts with a dot"),
    ("a" * 250 + "-1.0.tar.gz", "longer than 255 bytes"),
    ("fl\u0430sk-1.0.tar.gz", "not printable ASCII"),            # Cyrillic 'а' in "flask"
    ("\uff46lask-1.0-py3-none-any.whl", "not printable ASCII"),  # fullwidth 'f'
    ("flask-1.0-py3-none-any.whl\u200b", "not printable ASCII"),  # zero-width space
    ("flask-1.0\n-py3-none-any.whl", "not printable ASCII"),
    ("flask -1.0.tar.gz", "character outside"),
    ("flask-1.0.tar.gz?x=.whl", "character outside"),
    ("flask%2F..-1.0.tar.gz", "character outside"),
    ("-1.0.tar.gz", "invalid project name"),         # packaging alone would give project ''
    ("flask_-1.0.tar.gz", "invalid project name"),   # ... and 'flask-'
    ("_flask-1.0.zip", "invalid project name"),
    ("flask-1.0.rar", "not a wheel"),
    ("flask-1.0.TAR.GZ", "not a wheel"),
    ("flask-1.0-py3-none-any.whl.tar.gz", "not a valid sdist name"),
    ("flask-one.tar.gz", "not a valid sdist name"),
    ("flask-1.0.whl", "wrong number of parts"),
    ("flask-1.0-x1-py3-none-any.whl", "build number"),
    ("flask__x-1.0-py3-none-any.whl", "project name"),
    ("fl-ask-1.0-py3-none-any.whl", "version"),
])
def test_hostile_filenames_are_refused_with_the_reason(filename: str, reason: str) -> None:
    with pytest.raises(InvalidFilename, match=reason) as e:
        parse_filename(filename)
    assert repr(filename) in str(e.value)


@pytest.mark.parametrize(("a", "b"), [
    ("Foo_Bar-1.0.tar.gz", "foo-bar-1.0.tar.gz"),
    ("Foo.Bar-1.0-py3-none-any.whl", "foo_bar-1.0-py3-none-any.whl"),
    ("FOO_BAR-1.0.zip", "foo.bar-1.0.zip"),
])
def test_names_that_normalize_alike_are_one_project(a: str, b: str) -> None:
    """PEP 503: runs of -_. are one separator and case does not count; both files are foo-bar's."""
    assert parse_filename(a).project == parse_filename(b).project == "foo-bar"


def test_confusable_project_is_refused_before_anything_is_stored(disk_store: Store) -> None:
    _, data = make_sdist("flask", "1.0")
    with pytest.raises(InvalidFilename, match="ASCII"):
        disk_store.put(io.BytesIO(data), "fl\u0430sk-1.0.tar.gz")
    assert disk_store.ls() == [] and list(disk_store.objects.keys()) == []


def test_normalized_names_share_one_project_page(disk_store: Store) -> None:
    for fn in ("Foo_Bar-1.0.tar.gz", "foo.bar-2.0.tar.gz"):
        _, data = make_sdist("foo_bar", fn.split("-")[1].removesuffix(".tar.gz"))
        disk_store.put(io.BytesIO(data), fn)
    assert {f.project for f in disk_store.ls()} == {"foo-bar"}
    assert sorted(f.filename for f in disk_store.ls(project="foo-bar")) == ["Foo_Bar-1.0.tar.gz", "foo.bar-2.0.tar.gz"]


def test_a_filename_is_never_a_path(tmp_path: Path, disk_store: Store) -> None:
    """The name a file is stored under is only a catalog key: blobs are named by digest, and a put
    from a path uses the path's last component."""
    fn, data = make_wheel("demo", "1.0")
    src = tmp_path / "sub" / fn
    src.parent.mkdir()
    src.write_bytes(data)
    info = disk_store.put(src)
    assert info.filename == fn
    root = disk_store.root
    assert root is not None
    assert not list(root.rglob(fn)) and not list(root.rglob("demo*"))  # no file named after it
    for bad in ("../" + fn, str(src)):
        with pytest.raises(InvalidFilename, match="path separator"):
            disk_store.put(io.BytesIO(data), bad)


def test_export_uses_a_catalog_name_as_a_path_only_once_it_parses(tmp_path: Path) -> None:
    """Defense in depth: a catalog edited by another tool cannot make the export write outside."""
    from casstore.index.export import export_index

    store = Store.directory(tmp_path / "store")
    fn, data = make_wheel("demo", "1.0")
    store.put(io.BytesIO(data), fn)
    with store.catalog.write():
        store.catalog.execute("UPDATE files SET filename = ? WHERE filename = ?",
                              ["../../evil-1.0-py3-none-any.whl", fn])
    with pytest.raises(InvalidFilename, match="path separator"):
        export_index(store, tmp_path / "export" / "site")
    assert not list(tmp_path.rglob("evil-1.0-py3-none-any.whl"))
    store.close()


@pytest.mark.parametrize(("first", "second"), [
    ("Foo_Bar-1.0.tar.gz", "foo-bar-1.0.tar.gz"),
    ("foo_bar-1.0.tar.gz", "foo_bar-1.0.0.tar.gz"),  # PEP 440: 1.0 == 1.0.0
    ("Foo.Bar-1.0-py3-none-any.whl", "foo_bar-1.0-py3-none-any.whl"),
])
def test_a_second_spelling_of_a_stored_distribution_is_refused(first: str, second: str, disk_store: Store) -> None:
    """pip and uv see one distribution in both names; the index must not list two different files for it."""
    from casstore import SameDistribution

    def data(fn: str) -> bytes:
        if fn.endswith(".whl"):
            return make_wheel("foo_bar", "1.0")[1]
        return make_sdist("foo_bar", "1.0", payload=fn.encode())[1]  # other bytes: not a repeat of the first

    disk_store.put(io.BytesIO(data(first)), first)
    keys = set(disk_store.objects.keys())
    with pytest.raises(SameDistribution, match=repr(first)):
        disk_store.put(io.BytesIO(data(second)), second)
    assert [f.filename for f in disk_store.ls()] == [first]
    assert set(disk_store.objects.keys()) == keys  # refused before anything was written


def test_other_versions_tags_and_build_tags_are_other_distributions(disk_store: Store) -> None:
    for fn, (name, version, tag) in {
        "foo_bar-1.0-py3-none-any.whl": ("foo_bar", "1.0", "py3-none-any"),
        "foo_bar-1.0.1-py3-none-any.whl": ("foo_bar", "1.0.1", "py3-none-any"),
        "foo_bar-1.0-py2-none-any.whl": ("foo_bar", "1.0", "py2-none-any"),
    }.items():
        disk_store.put(io.BytesIO(make_wheel(name, version, tag=tag)[1]), fn)
    _, data = make_wheel("foo_bar", "1.0")
    disk_store.put(io.BytesIO(data + b""), "foo_bar-1.0-0rebuilt-py3-none-any.whl")
    assert len(disk_store.ls()) == 4
