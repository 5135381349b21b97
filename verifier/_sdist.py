"""Untrusted sdists: safe extraction, static build requirements, SOURCE_DATE_EPOCH."""

from __future__ import annotations

import tarfile
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

from ._errors import InvalidSdist

__all__ = ["DEFAULT_REQUIRES", "build_requires", "extract_sdist", "sdist_epoch"]

MAX_UNPACKED = 2 << 30
DEFAULT_REQUIRES = ["setuptools>=40.8.0"]  # PEP 517's fallback when pyproject.toml says nothing


def _check_name(sdist: Path, name: str) -> None:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts:
        raise InvalidSdist(str(sdist), f"member {name!r} escapes the destination")


def extract_sdist(sdist: Path, dest: Path) -> Path:
    """Unpack `sdist` into `dest` (which must be empty or absent); return its single top-level directory."""
    dest.mkdir(parents=True, exist_ok=True)
    name = sdist.name
    total = 0
    try:
        if name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")):
            with tarfile.open(sdist) as tf:
                for m in tf.getmembers():
                    _check_name(sdist, m.name)
                    total += m.size
                    if total > MAX_UNPACKED:
                        raise InvalidSdist(str(sdist), "unpacks to more than 2 GiB")
                tf.extractall(dest, filter="data")
        elif name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as zf:
                for zi in zf.infolist():
                    _check_name(sdist, zi.filename)
                    total += zi.file_size
                    if total > MAX_UNPACKED:
                        raise InvalidSdist(str(sdist), "unpacks to more than 2 GiB")
                zf.extractall(dest)
        else:
            raise InvalidSdist(str(sdist), "not a .tar.gz or .zip")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as e:
        if isinstance(e, tarfile.FilterError):
            raise InvalidSdist(str(sdist), f"unsafe member: {e}") from e
        raise InvalidSdist(str(sdist), str(e)) from e
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


def sdist_epoch(sdist: Path) -> int:
    """A SOURCE_DATE_EPOCH derived from the sdist itself: its newest member's mtime."""
    try:
        if sdist.name.endswith(".zip"):
            import calendar

            with zipfile.ZipFile(sdist) as zf:
                return max(calendar.timegm(zi.date_time + (0, 0, 0)) for zi in zf.infolist())
        with tarfile.open(sdist) as tf:
            return int(max(m.mtime for m in tf.getmembers()))
    except (tarfile.TarError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise InvalidSdist(str(sdist), str(e)) from e
