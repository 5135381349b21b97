"""How a command is confined: bubblewrap when the machine allows it, else nothing (and the record says so)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Bubblewrap", "NoSandbox", "Sandbox", "detect_sandbox"]


class Sandbox:
    """Turns an argv into one that runs confined; `name` goes into the record."""

    name: str = "none"

    def wrap(self, argv: Sequence[str], *, writable: Sequence[Path], cwd: Path) -> list[str]:
        return list(argv)


class NoSandbox(Sandbox):
    name = "none"


@dataclass
class Bubblewrap(Sandbox):
    """Read-only root, private /tmp, no network, only `writable` paths writable."""

    bwrap: str
    version: str
    network: bool = False

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"bubblewrap {self.version}"

    def wrap(self, argv: Sequence[str], *, writable: Sequence[Path], cwd: Path) -> list[str]:
        cmd = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for p in _visible_under_tmp():  # the private /tmp must not hide the interpreter or the checkout
            cmd += ["--ro-bind", str(p), str(p)]
        for p in writable:
            cmd += ["--bind", str(p), str(p)]
        if not any(cwd == p or p in cwd.parents for p in writable):
            cmd += ["--ro-bind", str(cwd), str(cwd)]  # /tmp is private: keep the working directory visible
        cmd += ["--unshare-all"] + (["--share-net"] if self.network else [])
        cmd += ["--hostname", "rebuild", "--die-with-parent", "--new-session", "--chdir", str(cwd), "--"]
        return cmd + list(argv)


def _visible_under_tmp() -> list[Path]:
    """The Python installation and the working directory of this process, where they live below /tmp
    (a virtualenv or a checkout there); the sandbox's private /tmp would hide them otherwise."""
    tmp = Path("/tmp")
    keep: list[Path] = []
    for raw in (sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent),
                os.getcwd()):
        p = Path(raw).resolve()
        if tmp in p.parents and p.is_dir() and not any(k == p or k in p.parents for k in keep):
            keep = [k for k in keep if p not in k.parents] + [p]
    return sorted(keep)


@dataclass
class Unshare(Sandbox):
    """The fallback without bubblewrap: only a private, empty network namespace (`unshare --net`)."""

    unshare: str
    name: str = "unshare --net"

    def wrap(self, argv: Sequence[str], *, writable: Sequence[Path], cwd: Path) -> list[str]:
        return [self.unshare, "--net", "--", *argv]


def detect_sandbox(prefer: bool = True) -> Sandbox:
    """Bubblewrap if installed and working here (it needs user namespaces), else `unshare --net` if that
    works, else NoSandbox. The record names whichever was used."""
    if not prefer:
        return NoSandbox()
    from ._run import run  # the one place subprocesses run (it imports this module)

    env = {"PATH": "/usr/bin:/bin"}
    exe = shutil.which("bwrap")
    if exe is None or not run(["true"], cwd=Path("/"), env=env, sandbox=Bubblewrap(exe, "?"), timeout=20).ok:
        un = shutil.which("unshare")
        if un is not None and run(["true"], cwd=Path("/"), env=env, sandbox=Unshare(un), timeout=20).ok:
            return Unshare(un)
        return NoSandbox()
    out = run([exe, "--version"], cwd=Path("/"), env=env, timeout=20).output.split()
    return Bubblewrap(exe, out[-1] if out else "?")
