"""Debian's packages and source packages, fetched through a private apt state (the one way the verifier
asks apt for anything that is not a sysroot's .deb files).

`apt_get(tmp, darch, verb, log, source=...)` writes a sources.list with one `deb` or `deb-src` line for
bookworm into `tmp/apt`, runs `apt-get update` and `apt-get VERB` there and returns the files it fetched;
the host's dpkg and apt configuration are never touched, and apt checks every file against the signed
index. `orig_tarball` fetches the upstream tarball of a source package once into a cache, checked against
a pinned sha256 (what the musl CPython and the native libraries are built from)."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
from pathlib import Path

from ..errors import ToolMissing, VerifierError
from ..exec.command import run
from .sysroot import DEBIAN_MIRROR

__all__ = ["SourceMismatch", "apt_env", "apt_get", "file_sha256", "orig_tarball"]

_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


class SourceMismatch(VerifierError):
    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(f"{path.name!r} has sha256 {actual}, the recipe pins {expected}")
        self.path, self.expected, self.actual = path, expected, actual


def apt_env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(home)}


def _apt(state: Path, darch: str, *, source: bool) -> list[str]:
    for d in (state / "lists" / "partial", state / "cache" / "archives" / "partial", state / "sources.list.d"):
        d.mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    kind = "deb-src" if source else "deb"
    (state / "sources.list").write_text(f"{kind} [signed-by={_KEYRING}] {DEBIAN_MIRROR} bookworm main\n")
    return [
        "apt-get", "-q", "-y", "-o", f"APT::Architecture={darch}", "-o", f"APT::Architectures::={darch}",
        "-o", f"Dir::State={state}", "-o", f"Dir::State::status={state / 'status'}",
        "-o", f"Dir::Cache={state / 'cache'}", "-o", "Debug::NoLocking=1",
        "-o", f"Dir::Etc::SourceList={state / 'sources.list'}", "-o", f"Dir::Etc::SourceParts={state / 'sources.list.d'}",
    ]


def apt_get(tmp: Path, darch: str, verb: list[str], log: Path, *, source: bool) -> list[Path]:
    """Run `apt-get update` then `apt-get <verb>` in a fresh directory under `tmp`; the files it fetched."""
    if shutil.which("apt-get") is None:
        raise ToolMissing("apt-get", "apt")
    tmp = tmp.absolute()  # apt reads relative Dir:: options below /etc/apt
    apt = _apt(tmp / "apt", darch, source=source)
    out = tmp / "files"
    out.mkdir()
    for _attempt in range(3):  # a mirror mid-sync fails one index now and then
        if run([*apt, "update"], cwd=tmp, env=apt_env(tmp), log=log, timeout=900).ok:
            break
    if not run([*apt, *verb], cwd=out, env=apt_env(tmp), log=log, timeout=1800).ok:
        raise VerifierError(f"apt-get {' '.join(verb)} for {darch} failed (log: {log})")
    shutil.rmtree(tmp / "apt")
    return sorted(out.iterdir())


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def orig_tarball(package: str, filename: str, cache: Path, log: Path, sha256: str | None = None) -> Path:
    """The upstream tarball `filename` of Debian's source package `package`, fetched once into `cache`
    (`apt-get source --download-only`); checked against `sha256` when given, every time it is asked for."""
    cache.mkdir(parents=True, exist_ok=True)
    dest = cache / filename
    with open(cache / f".{package}-src.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not dest.is_file():
            tmp = cache / f".{package}-src.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            files = apt_get(tmp, "amd64", ["source", "--download-only", package], log, source=True)
            orig = next((f for f in files if f.name == filename), None)
            if orig is None:
                raise VerifierError(f"Debian's {package} source package has no {filename!r} "
                                    f"(got {[f.name for f in files]}; log: {log})")
            if sha256 is not None and (got := file_sha256(orig)) != sha256:
                raise SourceMismatch(orig, sha256, got)
            orig.rename(dest)
            shutil.rmtree(tmp)
    if sha256 is not None and (got := file_sha256(dest)) != sha256:
        raise SourceMismatch(dest, sha256, got)
    return dest
