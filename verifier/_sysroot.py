"""Debian sysroots for other architectures: the target's CPython headers for cross builds and its
`python3.11` for smoke tests under qemu-user.

Packages come from the host's own apt sources, fetched with `apt-get download` through a private apt state
under the cache (`-o APT::Architectures=ARCH -o Dir::State=...`), so the host's dpkg configuration is never
changed (no `dpkg --add-architecture`), and unpacked with `dpkg-deb -x`. A sysroot is built once per
architecture into a temporary directory, then renamed into place; a `stamp.json` lists the .deb files."""

from __future__ import annotations

import ast
import fcntl
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import ToolMissing, VerifierError
from ._run import run
from ._targets import Target

__all__ = ["PACKAGES", "Sysroot", "ensure_sysroot", "find_qemu"]

PY = f"{sys.version_info.major}.{sys.version_info.minor}"

# Enough of Debian's CPython to import extension modules, plus its headers and sysconfigdata.
PACKAGES = (
    f"python{PY}-minimal", f"libpython{PY}-minimal", f"libpython{PY}-stdlib", f"libpython{PY}-dev",
    "libc6", "zlib1g", "libexpat1", "libffi8", "libgcc-s1", "libstdc++6", "libssl3", "libbz2-1.0", "liblzma5",
    "libuuid1", "libsqlite3-0", "libncursesw6", "libtinfo6", "libreadline8", "libcrypt1",
    "libdb5.3", "libgdbm6", "libnsl2", "libtirpc3", "media-types",
)


@dataclass(frozen=True)
class Sysroot:
    root: Path  # the unpacked packages (`qemu -L` takes this)
    include: Path  # a CPython include dir for the target: Debian's headers, pyconfig.h for the arch
    sysconfigdata: Path  # the target's `_sysconfigdata__linux_<multiarch>.py`
    debs: tuple[str, ...]  # .deb filenames (name_version_arch), what the recipe can name

    @property
    def python(self) -> Path:
        return self.root / "usr" / "bin" / f"python{PY}"

    def build_time_vars(self) -> dict[str, Any]:
        return read_sysconfigdata(self.sysconfigdata.read_text())


def read_sysconfigdata(text: str) -> dict[str, Any]:
    """`build_time_vars` of a `_sysconfigdata_*.py` file, read as a literal (never executed)."""
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "build_time_vars" for t in node.targets):
            value: dict[str, Any] = ast.literal_eval(node.value)
            return value
    raise VerifierError("no build_time_vars in sysconfigdata")


def find_qemu(target: Target) -> str:
    exe = shutil.which(target.qemu) if target.qemu else None
    if exe is None:
        raise ToolMissing(target.qemu or f"qemu for {target.arch}", "qemu-user-static")
    return exe


def _apt(state: Path, darch: str) -> list[str]:
    return [
        "apt-get", "-q", "-y", "-o", f"APT::Architecture={darch}", "-o", f"APT::Architectures::={darch}",
        "-o", f"Dir::State={state}", "-o", f"Dir::State::status={state / 'status'}",
        "-o", f"Dir::Cache={state / 'cache'}", "-o", "Debug::NoLocking=1",
    ]


def _fetch(tmp: Path, darch: str, log: Path) -> list[Path]:
    state = tmp / "apt"
    for d in (state / "lists" / "partial", state / "cache" / "archives" / "partial", tmp / "debs"):
        d.mkdir(parents=True)
    (state / "status").touch()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(tmp)}
    if shutil.which("apt-get") is None:
        raise ToolMissing("apt-get", "apt")
    for _attempt in range(3):  # a mirror mid-sync fails one index now and then ("unexpected size")
        if run([*_apt(state, darch), "update"], cwd=tmp, env=env, log=log, timeout=900).ok:
            break
    # Even after a partial failure the main suite's lists may be enough: `download` says if they are not.
    r = run([*_apt(state, darch), "download", *PACKAGES], cwd=tmp / "debs", env=env, log=log, timeout=1800)
    if not r.ok:
        raise VerifierError(f"apt-get download for {darch} failed (log: {log})")
    return sorted((tmp / "debs").glob("*.deb"))


def _relative_symlinks(root: Path) -> None:
    """Absolute symlinks (ppc64el's /lib64/ld64.so.2 -> /lib/...) would point out of the sysroot: make
    them relative, so qemu's -L prefix and any other reader stay inside it."""
    for link in root.rglob("*"):
        if link.is_symlink() and os.readlink(link).startswith("/"):
            dest = root / os.readlink(link).lstrip("/")
            link.unlink()
            link.symlink_to(os.path.relpath(dest, link.parent))


def _gnu_multiarch(target: Target) -> str:
    """Debian's multiarch for the target's architecture (musl targets borrow the glibc build's headers)."""
    return target.multiarch.replace("-musl", "-gnu")  # arm-linux-musleabihf -> arm-linux-gnueabihf


def _make_include(root: Path, target: Target, dest: Path) -> None:
    """Debian's arch-independent headers, with its dispatching pyconfig.h replaced by the arch's own."""
    src = root / "usr" / "include" / f"python{PY}"
    plat = root / "usr" / "include" / _gnu_multiarch(target) / f"python{PY}" / "pyconfig.h"
    if not src.is_dir() or not plat.is_file():
        raise VerifierError(f"no CPython {PY} headers for {target.debian_arch} in {str(root)!r}")
    shutil.copytree(src, dest, symlinks=True)
    (dest / "pyconfig.h").unlink()
    shutil.copyfile(plat, dest / "pyconfig.h")


def ensure_sysroot(target: Target, cache: Path) -> Sysroot:
    """The Debian sysroot for `target`'s architecture under `cache/<debian arch>`, created if missing."""
    if not target.debian_arch:
        raise VerifierError(f"target {target.name!r} names no Debian architecture")
    cache = cache.absolute()
    cache.mkdir(parents=True, exist_ok=True)
    top = cache / target.debian_arch
    with open(cache / f".{target.debian_arch}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # tests and nightly workers may ask at the same time
        if not (top / "stamp.json").is_file():
            tmp = cache / f".{target.debian_arch}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            log = cache / f"{target.debian_arch}.log"
            log.unlink(missing_ok=True)
            debs = _fetch(tmp, target.debian_arch, log)
            env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
            for deb in debs:
                if not run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], cwd=tmp, env=env, log=log).ok:
                    raise VerifierError(f"cannot unpack {deb.name!r} (log: {log})")
            _relative_symlinks(tmp / "root")
            _make_include(tmp / "root", target, tmp / "include" / f"python{PY}")
            shutil.rmtree(tmp / "apt")
            shutil.rmtree(tmp / "debs")
            (tmp / "stamp.json").write_text(json.dumps({"debs": [d.name for d in debs]}, indent=1))
            shutil.rmtree(top, ignore_errors=True)
            tmp.rename(top)
    debs = tuple(json.loads((top / "stamp.json").read_text())["debs"])
    data = top / "root" / "usr" / "lib" / f"python{PY}" / f"_sysconfigdata__linux_{_gnu_multiarch(target)}.py"
    return Sysroot(top / "root", top / "include" / f"python{PY}", data, debs)
