"""Distribution filenames: parsed once at the edge with :mod:`packaging.utils`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from .errors import InvalidFilename

__all__ = ["DistName", "Kind", "normalize_project", "parse_filename", "same_distribution"]

Kind = Literal["sdist", "wheel"]


@dataclass(frozen=True, slots=True)
class DistName:
    filename: str
    kind: Kind
    project: NormalizedName
    version: str
    tags: tuple[str, ...]  # wheel tags "py3-none-any", sorted; empty for sdists
    build: str


def normalize_project(name: str) -> NormalizedName:
    return canonicalize_name(name, validate=True)


# Every character a valid name, PEP 440 version, build tag or platform tag can contain. Anything else
# (spaces, '%', '?', '#', Unicode look-alikes) cannot be part of a valid distribution filename and
# would change meaning in a URL or a shell.
_ALLOWED = re.compile(r"[A-Za-z0-9._+!-]+")


def _check_plain(filename: str) -> None:
    if not filename or filename in (".", ".."):
        raise InvalidFilename(filename, "empty")
    if "/" in filename or "\\" in filename or "\x00" in filename:
        raise InvalidFilename(filename, "contains a path separator or NUL")
    if filename.startswith("."):
        raise InvalidFilename(filename, "starts with a dot")
    if len(filename.encode("utf-8", "surrogateescape")) > 255:
        raise InvalidFilename(filename, "longer than 255 bytes")
    if not filename.isascii() or not filename.isprintable():
        raise InvalidFilename(filename, "not printable ASCII")
    if not _ALLOWED.fullmatch(filename):
        raise InvalidFilename(filename, "a character outside A-Z a-z 0-9 . _ + ! -")


def parse_filename(filename: str) -> DistName:
    """Parse an sdist (``.tar.gz``/``.zip``) or wheel filename; raise :class:`InvalidFilename`."""
    _check_plain(filename)
    if filename.endswith(".whl"):
        try:
            name, version, build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as e:
            raise InvalidFilename(filename, str(e).split(" (", 1)[-1].split(")")[0] or "bad wheel name") from e
        return DistName(
            filename=filename,
            kind="wheel",
            project=name,
            version=str(version),
            tags=tuple(sorted(str(t) for t in tags)),
            build="".join(map(str, build)) if build else "",
        )
    if filename.endswith((".tar.gz", ".zip")):
        # Older packaging does not check the name part of an sdist ('-1.0.tar.gz' would be project ''),
        # newer refuses it with its own words: check it first, so the reason is the same everywhere.
        stem = filename.removesuffix(".tar.gz").removesuffix(".zip")
        if "-" in stem:
            raw = stem.rpartition("-")[0]
            try:
                canonicalize_name(raw, validate=True)
            except InvalidName as e:
                raise InvalidFilename(filename, f"invalid project name {raw!r}") from e
        try:
            name, version = parse_sdist_filename(filename)
        except InvalidSdistFilename as e:
            raise InvalidFilename(filename, "not a valid sdist name") from e
        return DistName(filename, "sdist", name, str(version), (), "")
    raise InvalidFilename(filename, "not a wheel (.whl) or sdist (.tar.gz, .zip)")


def same_distribution(a: DistName, b: DistName) -> bool:
    """Whether two filenames name one distribution once normalized (PEP 503 names, PEP 440 versions,
    the same build tag, tags and archive format)."""
    from packaging.version import Version

    def suffix(n: DistName) -> str:
        return ".whl" if n.kind == "wheel" else (".zip" if n.filename.endswith(".zip") else ".tar.gz")

    return (a.kind, a.project, a.build, a.tags, suffix(a)) == (b.kind, b.project, b.build, b.tags, suffix(b)) \
        and Version(a.version) == Version(b.version)
