"""Real sdists (and published wheels) from PyPI, cached under .cache/ so later runs are offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _download(spec: str, dest: Path, *args: str) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--isolated", "--no-deps", "--quiet", "-d", str(dest),
         "--cert", "/etc/ssl/certs/ca-certificates.crt", *args, spec],
        check=True, stdin=subprocess.DEVNULL,
    )


def fetch_sdist(name: str, version: str, cache: Path) -> Path:
    dest = cache / "sdists"
    prefix = f"{name}-{version}.".lower().replace("-", "_")

    def found() -> list[Path]:
        return sorted(p for p in dest.glob("*") if p.name.lower().replace("-", "_").replace(".", "_").startswith(
            prefix.replace(".", "_")))

    if not found():
        _download(f"{name}=={version}", dest, "--no-binary", ":all:")
    if not found():
        raise FileNotFoundError(f"no sdist of {name}=={version} in {dest}")
    return found()[0]


def fetch_published_wheel(name: str, version: str, cache: Path, platform: str = "manylinux_2_17_x86_64") -> Path | None:
    dest = cache / "published" / f"{name}-{version}-{platform}"
    if not any(dest.glob("*.whl")):
        try:
            _download(f"{name}=={version}", dest, "--only-binary", ":all:", "--platform", platform,
                      "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311")
        except subprocess.CalledProcessError:
            return None
    wheels = sorted(dest.glob("*.whl"))
    return wheels[0] if wheels else None


def fetch_pure_wheel(name: str, version: str, cache: Path) -> Path | None:
    """The py3-none-any (or py2.py3) wheel PyPI published for `name==version`, if any."""
    dest = cache / "published" / f"{name}-{version}-any"
    if not any(dest.glob("*-none-any.whl")):
        try:
            _download(f"{name}=={version}", dest, "--only-binary", ":all:")
        except subprocess.CalledProcessError:
            return None
    wheels = sorted(dest.glob("*-none-any.whl"))
    return wheels[0] if wheels else None
