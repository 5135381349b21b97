"""Untrusted sdists: safe extraction, static build requirements, SOURCE_DATE_EPOCH."""

from __future__ import annotations

import tarfile
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

from casstore.untrusted import ARCHIVE_ERRORS, BoundedTarInfo, members

from ..errors import InvalidSdist

__all__ = ["DEFAULT_REQUIRES", "build_requires", "extract_sdist", "requires_python", "sdist_epoch"]

MAX_UNPACKED = 2 << 30  # bytes of member data
MAX_MEMBERS = 100_000
MAX_NAME = 4096  # bytes in a member name or link target (PATH_MAX)
MAX_HEADERS = 64 << 20  # bytes of names, link targets and pax records kept while listing
DEFAULT_REQUIRES = ["setuptools>=40.8.0"]  # PEP 517's fallback when pyproject.toml says nothing


def _inside(sdist: Path, what: str, path: str, links: set[str], *, to_link: bool = False) -> None:
    """Walk ``path`` (relative to the destination) component by component without touching the disk:
    it must stay inside and never pass through a symlink of the archive (whose target could move it
    anywhere); ``to_link``: it may end at one (a link to a link, each checked on its own)."""
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part == ".":
            continue
        if parts and "/".join(parts) in links:
            raise InvalidSdist(str(sdist), f"{what} passes through the symlink {'/'.join(parts)!r}")
        if part == "..":
            if not parts:
                raise InvalidSdist(str(sdist), f"{what} escapes the destination")
            parts.pop()
        else:
            parts.append(part)
    if not to_link and parts and "/".join(parts) in links:
        raise InvalidSdist(str(sdist), f"{what} passes through the symlink {'/'.join(parts)!r}")


def _check_members(sdist: Path, entries: list[tuple[str, str, str]]) -> None:
    """Refuse what could write outside the destination or is ambiguous, before anything is written.

    ``entries`` are (name, kind, link target), kind "file", "dir", "symlink", "hardlink" or "special". The
    checks are lexical and strict (no member below a symlink, no link leading outside or through a
    symlink, no duplicates), so they do not depend on tarfile's ``data`` filter, which still runs."""
    links = {n for n, kind, _ in entries if kind == "symlink"}
    seen: set[str] = set()
    for name, kind, target in entries:
        p = PurePosixPath(name)
        if not name:
            raise InvalidSdist(str(sdist), "a member has an empty name")
        if p.is_absolute() or ".." in p.parts or "\0" in name:
            raise InvalidSdist(str(sdist), f"member {name!r} escapes the destination")
        if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME or len(target) > MAX_NAME:
            raise InvalidSdist(str(sdist), f"member name or link target longer than {MAX_NAME} bytes: {name[:80]!r}...")
        norm = "/".join(x for x in p.parts if x != ".")
        if norm in seen and kind != "dir":
            raise InvalidSdist(str(sdist), f"duplicate member {name!r}")
        seen.add(norm)
        _inside(sdist, f"member {name!r}", str(PurePosixPath(norm).parent), links)
        if kind == "symlink":
            if not target or PurePosixPath(target).is_absolute():
                raise InvalidSdist(str(sdist), f"symlink {name!r} -> {target!r} escapes the destination")
            _inside(sdist, f"symlink {name!r} -> {target!r}", f"{PurePosixPath(norm).parent}/{target}", links,
                    to_link=True)
        elif kind == "hardlink":
            if not target or PurePosixPath(target).is_absolute():
                raise InvalidSdist(str(sdist), f"hard link {name!r} -> {target!r} escapes the destination")
            _inside(sdist, f"hard link {name!r} -> {target!r}", target, links, to_link=True)
        elif kind == "special":
            raise InvalidSdist(str(sdist), f"member {name!r} is a device or fifo")


def _tar_members(sdist: Path, tf: tarfile.TarFile) -> list[tarfile.TarInfo]:
    out = []
    total = headers = 0
    for m in members(tf, MAX_MEMBERS):
        total += m.size if m.isreg() else 0
        headers += len(m.name) + len(m.linkname) + sum(len(k) + len(v) for k, v in m.pax_headers.items())
        if total > MAX_UNPACKED or tf.offset > MAX_UNPACKED + MAX_HEADERS:
            raise InvalidSdist(str(sdist), f"unpacks to more than {MAX_UNPACKED >> 30} GiB")
        if headers > MAX_HEADERS:
            raise InvalidSdist(str(sdist), f"more than {MAX_HEADERS >> 20} MiB of member names and headers")
        out.append(m)
    return out


def _kind(m: tarfile.TarInfo) -> str:
    if m.issym():
        return "symlink"
    if m.islnk():
        return "hardlink"
    return "dir" if m.isdir() else "file" if m.isreg() else "special"


def extract_sdist(sdist: Path, dest: Path) -> Path:
    """Unpack `sdist` into `dest` (which must be empty or absent); return its single top-level directory.

    Untrusted input: a member that would land outside `dest` (absolute, ``..``, through or as a link
    leading outside), a device file, a duplicate name, more than MAX_MEMBERS members or MAX_UNPACKED
    bytes, or a damaged archive raise :class:`InvalidSdist` before anything is written."""
    name = sdist.name
    total = 0
    try:
        if name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")):
            with tarfile.open(sdist, tarinfo=BoundedTarInfo) as tf:
                infos = _tar_members(sdist, tf)
                tf.members = infos  # type: ignore[attr-defined]  # extractall looks hard link targets up here
                _check_members(sdist, [(m.name, _kind(m), m.linkname) for m in infos])
                dest.mkdir(parents=True, exist_ok=True)
                tf.extractall(dest, members=infos, filter="data")
        elif name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as zf:
                zinfos = zf.infolist()
                if len(zinfos) > MAX_MEMBERS:
                    raise InvalidSdist(str(sdist), f"more than {MAX_MEMBERS} members")
                for zi in zinfos:
                    total += zi.file_size
                    if total > MAX_UNPACKED:
                        raise InvalidSdist(str(sdist), f"unpacks to more than {MAX_UNPACKED >> 30} GiB")
                # zipfile writes symlink entries as plain files; their names are checked all the same
                # (ZipInfo.is_dir() fails on an empty name: test the name itself)
                _check_members(sdist, [(zi.filename.rstrip("/"), "dir" if zi.filename.endswith("/") else "file", "")
                                       for zi in zinfos])
                dest.mkdir(parents=True, exist_ok=True)
                zf.extractall(dest)
        else:
            raise InvalidSdist(str(sdist), "not a .tar.gz or .zip")
    except ARCHIVE_ERRORS as e:
        if isinstance(e, InvalidSdist):
            raise
        if isinstance(e, tarfile.FilterError):
            raise InvalidSdist(str(sdist), f"unsafe member: {e}") from e
        raise InvalidSdist(str(sdist), f"{type(e).__name__}: {e}") from e
    tops = [p for p in dest.iterdir()]
    if len(tops) != 1 or not tops[0].is_dir():
        raise InvalidSdist(str(sdist), "expected exactly one top-level directory")
    return tops[0]


def build_requires(src: Path) -> list[str]:
    """The static [build-system] requires of the unpacked sdist at `src`."""
    pp = src / "pyproject.toml"
    if not pp.is_file():
        return list(DEFAULT_REQUIRES)
    try:
        data = tomllib.loads(pp.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InvalidSdist(str(src), f"bad pyproject.toml: {e}") from e
    bs = data.get("build-system")
    if not isinstance(bs, dict) or "requires" not in bs:
        return list(DEFAULT_REQUIRES)
    req = bs["requires"]
    if not isinstance(req, list) or not all(isinstance(r, str) for r in req):
        raise InvalidSdist(str(src), "build-system.requires is not a list of strings")
    return list(req)


def requires_python(src: Path) -> str | None:
    """The Requires-Python of the unpacked sdist at `src`: PKG-INFO's field, else pyproject.toml's
    [project] requires-python (an sdist without PKG-INFO); None when neither says."""
    pkg_info = src / "PKG-INFO"
    if pkg_info.is_file():
        from email.parser import HeaderParser

        value = HeaderParser().parsestr(pkg_info.read_text(errors="replace")[: 1 << 20]).get("Requires-Python")
        return str(value).strip() if value is not None else None
    pp = src / "pyproject.toml"
    try:
        project = tomllib.loads(pp.read_text(errors="replace")).get("project") if pp.is_file() else None
    except tomllib.TOMLDecodeError:
        return None
    value = project.get("requires-python") if isinstance(project, dict) else None
    return value.strip() if isinstance(value, str) else None


def sdist_epoch(sdist: Path) -> int:
    """A SOURCE_DATE_EPOCH derived from the sdist itself: its newest member's mtime."""
    try:
        if sdist.name.endswith(".zip"):
            import calendar

            with zipfile.ZipFile(sdist) as zf:
                return max(calendar.timegm(zi.date_time + (0, 0, 0)) for zi in zf.infolist())
        with tarfile.open(sdist, tarinfo=BoundedTarInfo) as tf:
            return int(max(m.mtime for m in _tar_members(sdist, tf)))
    except ARCHIVE_ERRORS as e:
        raise InvalidSdist(str(sdist), str(e)) from e
