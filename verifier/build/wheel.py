"""Wheel files: tags, extension modules, deterministic retagging."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import VerifierError

__all__ = ["WheelName", "extension_module_names", "extension_modules", "parse_wheel_name", "retag", "top_level_modules"]


@dataclass(frozen=True)
class WheelName:
    name: str
    version: str
    build: str | None
    python: str
    abi: str
    platform: str

    def with_platform(self, platform: str) -> str:
        build = f"-{self.build}" if self.build else ""
        return f"{self.name}-{self.version}{build}-{self.python}-{self.abi}-{platform}.whl"

    @property
    def is_pure(self) -> bool:
        return self.abi == "none" and self.platform == "any"


def parse_wheel_name(filename: str) -> WheelName:
    if not filename.endswith(".whl"):
        raise VerifierError(f"not a wheel filename: {filename!r}")
    parts = filename[:-4].split("-")
    if len(parts) == 5:
        return WheelName(parts[0], parts[1], None, parts[2], parts[3], parts[4])
    if len(parts) == 6:
        return WheelName(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
    raise VerifierError(f"invalid wheel filename: {filename!r}")


def extension_module_names(members: Iterable[str], ext_suffix: str) -> list[str]:
    """Dotted names, without their suffix, of the extension modules among a wheel's member names (pure):
    members ending in `ext_suffix` (e.g. `.cpython-311-x86_64-linux-gnu.so`) or `.abi3.so`, outside
    `.data/`; vendored libraries (`pillow.libs/libjpeg-….so.62`) are not modules."""
    mods = []
    for name in members:
        if ".data/" in name.split("/")[0] + "/":
            continue
        for suffix in (ext_suffix, ".abi3.so"):
            if name.endswith(suffix):
                mods.append(name[: -len(suffix)].replace("/", "."))
                break
    return sorted(mods)


def extension_modules(wheel: Path, ext_suffix: str) -> list[str]:
    """Dotted names of the extension modules in `wheel` (members ending in `ext_suffix` or `.abi3.so`)."""
    with zipfile.ZipFile(wheel) as zf:
        return extension_module_names(zf.namelist(), ext_suffix)


def top_level_modules(wheel: Path) -> list[str]:
    """The importable top-level names of a (pure) wheel: packages (a top-level folder with __init__.py) and
    modules (a top-level .py), not .dist-info/.data folders; what a smoke import of it tries."""
    names = set()
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            parts = name.split("/")
            if parts[0].endswith((".dist-info", ".data")):
                continue
            if len(parts) == 1 and name.endswith(".py") and parts[0] != "__init__.py":
                names.add(name[:-3])
            elif len(parts) == 2 and parts[1] == "__init__.py":
                names.add(parts[0])
    return sorted(n for n in names if n.isidentifier())


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def retag(wheel: Path, platform: str, replace: Mapping[str, bytes] | None = None) -> Path:
    """Rewrite `wheel` for `platform`: new filename, WHEEL Tag lines, RECORD entry, and the members in
    `replace` with their new bytes (and RECORD lines); every other byte and every zip attribute (order,
    timestamps, permissions, compression) kept. Returns the new path."""
    replace = dict(replace or {})
    wn = parse_wheel_name(wheel.name)
    if wn.platform == platform and not replace:
        return wheel
    dest = wheel.with_name(wn.with_platform(platform))
    with zipfile.ZipFile(wheel) as zin:
        infos = zin.infolist()
        distinfo = next((i.filename.split("/")[0] for i in infos if i.filename.endswith(".dist-info/WHEEL")), None)
        if distinfo is None:
            raise VerifierError(f"wheel {wheel.name!r} has no .dist-info/WHEEL")
        wheel_name, record_name = f"{distinfo}/WHEEL", f"{distinfo}/RECORD"
        old_wheel = zin.read(wheel_name)
        lines = old_wheel.decode().splitlines(keepends=True)
        tags = [f"Tag: {wn.python}-{wn.abi}-{platform}\n"]
        new_lines, done = [], False
        for line in lines:
            if line.startswith("Tag:"):
                if not done:
                    new_lines += tags
                    done = True
                continue
            new_lines.append(line)
        new_wheel = "".join(new_lines).encode()
        record = zin.read(record_name).decode().splitlines(keepends=True)
        replace[wheel_name] = new_wheel
        new_record = "".join(
            f"{r.split(',')[0]},{_record_hash(replace[r.split(',')[0]])},{len(replace[r.split(',')[0]])}\n"
            if r.split(",")[0] in replace else r
            for r in record
        ).encode()
        tmp = dest.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w") as zout:
            for info in infos:
                data = zin.read(info)
                if info.filename in replace:
                    data = replace[info.filename]
                elif info.filename == record_name:
                    data = new_record
                zi = zipfile.ZipInfo(info.filename, info.date_time)
                zi.compress_type = info.compress_type
                zi.external_attr = info.external_attr
                zi.create_system = info.create_system
                zout.writestr(zi, data)
    tmp.replace(dest)
    if dest != wheel:
        wheel.unlink()
    return dest
