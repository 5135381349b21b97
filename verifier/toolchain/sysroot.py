"""Debian sysroots for other architectures: the target's CPython headers for cross builds and its
`python3.11` for smoke tests under qemu-user.

Packages come from the host's own apt sources, fetched with `apt-get download` through a private apt state
under the cache (`-o APT::Architectures=ARCH -o Dir::State=...`), so the host's dpkg configuration is never
changed (no `dpkg --add-architecture`), and unpacked with `dpkg-deb -x`. A sysroot is built once per
architecture into a temporary directory, then renamed into place; a `stamp.json` lists the .deb files.

Another CPython version (`pythons.py`) comes from another Debian suite (3.13: trixie), through a private
sources.list as well (`Dir::Etc::SourceList`), into `<suite>-<arch>/`. Such a sysroot for the host's own
architecture also provides the build interpreter: its `python3.X` run through the sysroot's own dynamic
loader (`ld.so --library-path`), since the suite's libc is newer than the host's."""

from __future__ import annotations

import ast
import fcntl
import json
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ToolMissing, VerifierError
from ..exec.command import run
from .elf import interpreter
from .pythons import HOST_PYTHON, PythonSource, get_python
from .targets import Target

__all__ = ["DEBIAN_MIRROR", "Sysroot", "ensure_sysroot", "find_qemu"]

PY = HOST_PYTHON

DEBIAN_MIRROR = "http://deb.debian.org/debian"
_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"  # Debian 12's keyring also holds trixie's keys


@dataclass(frozen=True)
class Sysroot:
    root: Path  # the unpacked packages (`qemu -L` takes this)
    include: Path  # a CPython include dir for the target: Debian's headers, pyconfig.h for the arch
    sysconfigdata: Path  # the target's `_sysconfigdata__linux_<multiarch>.py`
    debs: tuple[str, ...]  # .deb filenames (name_version_arch), what the recipe can name
    version: str = PY  # the CPython version it holds
    multiarch: str = ""  # Debian's multiarch directory name, e.g. x86_64-linux-gnu

    @property
    def python(self) -> Path:
        return self.root / "usr" / "bin" / f"python{self.version}"

    def deb(self, package: str) -> str:
        """The .deb filename of `package` in this sysroot ("?" if absent)."""
        return next((d for d in self.debs if d.startswith(package + "_")), "?")

    @property
    def python_version(self) -> str:
        """The full CPython version, from the interpreter package's Debian version (3.13.5-2+deb13u5 -> 3.13.5)."""
        return self.deb(f"python{self.version}-minimal").split("_")[1].split("-")[0].split("+")[0]

    @property
    def loader(self) -> Path:
        """The sysroot's own dynamic loader (the interpreter's PT_INTERP, inside the sysroot)."""
        return self.root / interpreter(self.python.read_bytes()).lstrip("/")

    def native_argv(self) -> list[str]:
        """Run the sysroot's interpreter on this host (same architecture) with its own loader and libraries."""
        libs = f"{self.root / 'usr' / 'lib' / self.multiarch}:{self.root / 'lib' / self.multiarch}"
        return [str(self.loader), "--library-path", libs, str(self.python)]

    def write_launcher(self, path: Path, *, as_itself: bool = False) -> Path:
        """A shell script at `path` that runs the sysroot's interpreter on this host. With `as_itself` the
        interpreter sees the script's own path as its executable: what a venv's `bin/python` needs to find
        its `pyvenv.cfg`; without, it finds its prefix (the sysroot's /usr) from its real path."""
        *loader, python = (shlex.quote(a) for a in self.native_argv())
        argv = " ".join(loader) + (' --argv0 "$0" ' if as_itself else " ") + python
        path.write_text(f'#!/bin/sh\nexec {argv} "$@"\n')
        path.chmod(0o755)
        return path

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


def _fetch(tmp: Path, darch: str, log: Path, python: PythonSource, extra: tuple[str, ...] = ()) -> list[Path]:
    state = tmp / "apt"
    for d in (state / "lists" / "partial", state / "cache" / "archives" / "partial", tmp / "debs"):
        d.mkdir(parents=True)
    (state / "status").touch()
    apt = _apt(state, darch)
    if python.suite:  # another Debian release: a private sources.list, the host's sources.list.d ignored
        (state / "sources.list.d").mkdir()
        (state / "sources.list").write_text(f"deb [signed-by={_KEYRING}] {DEBIAN_MIRROR} {python.suite} main\n")
        apt += ["-o", f"Dir::Etc::SourceList={state / 'sources.list'}",
                "-o", f"Dir::Etc::SourceParts={state / 'sources.list.d'}"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(tmp)}
    if shutil.which("apt-get") is None:
        raise ToolMissing("apt-get", "apt")
    for _attempt in range(3):  # a mirror mid-sync fails one index now and then ("unexpected size")
        if run([*apt, "update"], cwd=tmp, env=env, log=log, timeout=900).ok:
            break
    # Even after a partial failure the main suite's lists may be enough: `download` says if they are not.
    r = run([*apt, "download", *python.packages, *extra], cwd=tmp / "debs", env=env, log=log, timeout=1800)
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


def _merged_usr(root: Path) -> None:
    """Debian 13 ships /lib, /lib64, /bin only as merged-/usr symlinks made at install time (the packages'
    files live below usr/): make them, so loaders named /lib/ld-linux-*.so.1 are found in the sysroot."""
    for top in ("lib", "lib64", "bin", "sbin"):
        if (root / "usr" / top).is_dir() and not (root / top).exists() and not (root / top).is_symlink():
            (root / top).symlink_to(f"usr/{top}")


def _gnu_multiarch(target: Target) -> str:
    """Debian's multiarch for the target's architecture (musl targets borrow the glibc build's headers)."""
    return target.multiarch.replace("-musl", "-gnu")  # arm-linux-musleabihf -> arm-linux-gnueabihf


def _make_include(root: Path, target: Target, dest: Path, version: str) -> None:
    """Debian's arch-independent headers, with its dispatching pyconfig.h replaced by the arch's own."""
    src = root / "usr" / "include" / f"python{version}"
    plat = root / "usr" / "include" / _gnu_multiarch(target) / f"python{version}" / "pyconfig.h"
    if not src.is_dir() or not plat.is_file():
        raise VerifierError(f"no CPython {version} headers for {target.debian_arch} in {str(root)!r}")
    shutil.copytree(src, dest, symlinks=True)
    (dest / "pyconfig.h").unlink()
    shutil.copyfile(plat, dest / "pyconfig.h")


def ensure_sysroot(
    target: Target, cache: Path, python: str | PythonSource = PY, *, extra: tuple[str, ...] = (), name: str = "",
) -> Sysroot:
    """The Debian sysroot with CPython `python` for `target`'s architecture under
    `cache/<debian arch>` (`cache/<suite>-<debian arch>` for a non-host suite), created if missing.
    `extra` Debian packages (e.g. a native compiler for the emulated-build benchmark) make another sysroot,
    `cache/<that>-<name>`."""
    if not target.debian_arch:
        raise VerifierError(f"target {target.name!r} names no Debian architecture")
    py = get_python(python)
    if not py.has_arch(target.debian_arch):
        raise VerifierError(f"no CPython {py.version} for {target.arch}: Debian {py.suite or 'bookworm'} has no "
                            f"{target.debian_arch} architecture (choose another Python version)")
    cache = cache.absolute()
    cache.mkdir(parents=True, exist_ok=True)
    key = py.sysroot_key(target.debian_arch) + (f"-{name}" if name else "")
    if bool(extra) != bool(name):
        raise VerifierError("a sysroot with extra packages needs a name of its own, and only then")
    top = cache / key
    with open(cache / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # tests and nightly workers may ask at the same time
        if not (top / "stamp.json").is_file():
            tmp = cache / f".{key}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            log = cache / f"{key}.log"
            log.unlink(missing_ok=True)
            fetched = _fetch(tmp, target.debian_arch, log, py, extra)
            env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
            for deb in fetched:
                if not run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], cwd=tmp, env=env, log=log).ok:
                    raise VerifierError(f"cannot unpack {deb.name!r} (log: {log})")
            _relative_symlinks(tmp / "root")
            _merged_usr(tmp / "root")
            _make_include(tmp / "root", target, tmp / "include" / f"python{py.version}", py.version)
            shutil.rmtree(tmp / "apt")
            shutil.rmtree(tmp / "debs")
            (tmp / "stamp.json").write_text(json.dumps({"debs": [d.name for d in fetched]}, indent=1))
            shutil.rmtree(top, ignore_errors=True)
            tmp.rename(top)
    debs: tuple[str, ...] = tuple(json.loads((top / "stamp.json").read_text())["debs"])
    v, multiarch = py.version, _gnu_multiarch(target)
    data = top / "root" / "usr" / "lib" / f"python{v}" / f"_sysconfigdata__linux_{multiarch}.py"
    return Sysroot(top / "root", top / "include" / f"python{v}", data, debs, v, multiarch)
