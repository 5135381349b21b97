"""How a command is confined: bubblewrap when the machine allows it, else `unshare --net`, else nothing;
the record names which, and why the better ones were not used (docs/verifier.md, "Sandbox").
Which one works here is `detect.detect_sandbox`'s question."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["Bubblewrap", "NoSandbox", "Sandbox", "Unshare", "hiding"]


class Sandbox:
    """Turns an argv into one that runs confined; `name` goes into the record."""

    name: str = "none"

    def wrap(self, argv: Sequence[str], *, writable: Sequence[Path], cwd: Path, hidden: Sequence[Path] = ()) -> list[str]:
        return list(argv)


@dataclass
class NoSandbox(Sandbox):
    """No confinement at all; `reason` says why (it goes into the record with the name)."""

    reason: str = ""

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"none ({self.reason})" if self.reason else "none"


# Replaced by empty directories in the sandbox: homes (keys, tokens, other checkouts), the host's temporary
# files, and /run (the sockets of docker, dbus, systemd: a read-only mount does not stop connect()).
PRIVATE = ("/tmp", "/var/tmp", "/root", "/home", "/run", "/var/run", "/mnt", "/media", "/srv")
# Secrets of the host that stay below the read-only root otherwise (a verifier run as root could read them).
SECRET_FILES = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-")
SECRET_DIRS = ("/etc/ssh", "/etc/ssl/private")
# tmpfs is memory: bounded. Builds get TMPDIR in their build root; /tmp is for tools that ignore it.
TMPFS_SIZE = {"/tmp": 1 << 30, "/var/tmp": 1 << 30}
TMPFS_OTHER = 64 << 20


@dataclass
class Bubblewrap(Sandbox):
    """Read-only root; empty homes, /tmp and /run; no network, IPC, PID or UTS sharing; no capabilities, no
    new privileges; only `writable` paths writable; `hidden` paths (the store) replaced by empty directories."""

    bwrap: str
    version: str
    network: bool = False
    hide: tuple[Path, ...] = ()  # replaced by empty directories in every command this sandbox runs

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"bubblewrap {self.version}"

    def wrap(self, argv: Sequence[str], *, writable: Sequence[Path], cwd: Path, hidden: Sequence[Path] = ()) -> list[str]:
        cmd = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        home = Path.home().resolve()
        for f in SECRET_FILES:
            if os.path.isfile(f) and not os.path.islink(f):
                cmd += ["--ro-bind", "/dev/null", f]
        private = [Path(p) for p in (*PRIVATE, *SECRET_DIRS) if os.path.isdir(p) and not os.path.islink(p)]
        private += [home] if home != Path("/") and not any(home == p or p in home.parents for p in private) else []
        for p in private:
            cmd += ["--size", str(TMPFS_SIZE.get(str(p), TMPFS_OTHER)), "--tmpfs", str(p)]
        for p in _needed_inside(private, home):  # the private dirs must not hide the interpreter or the checkout
            cmd += ["--ro-bind", str(p), str(p)]
        for p in (*self.hide, *hidden):  # after the re-exposed ones: a store inside the checkout stays hidden
            if Path(p).is_dir():
                cmd += ["--size", str(TMPFS_OTHER), "--tmpfs", str(p)]
        for p in writable:
            cmd += ["--bind", str(p), str(p)]
        if not any(cwd == p or p in cwd.parents for p in writable):
            cmd += ["--ro-bind", str(cwd), str(cwd)]  # /tmp is private: keep the working directory visible
        cmd += ["--unshare-all"] + (["--share-net"] if self.network else [])
        cmd += ["--cap-drop", "ALL", "--hostname", "rebuild", "--die-with-parent", "--new-session",
                "--chdir", str(cwd), "--"]
        return cmd + list(argv)


def hiding(sandbox: Sandbox, paths: Sequence[Path]) -> Sandbox:
    """`sandbox`, also hiding `paths` (the store) from everything it runs; other sandboxes cannot hide."""
    if isinstance(sandbox, Bubblewrap) and paths:
        return replace(sandbox, hide=(*sandbox.hide, *paths))
    return sandbox


def _needed_inside(private: Sequence[Path], home: Path) -> list[Path]:
    """The Python installation (with the zig of its `ziglang` package) and the working directory of this
    process (a checkout: its .cache holds the sysroots), where they live below a private directory; never
    the home itself (a verifier started in its home directory)."""
    keep: list[Path] = []
    for raw in (sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent),
                os.getcwd()):
        p = Path(raw).resolve()
        if p == home or not p.is_dir() or not any(d in p.parents for d in private):
            continue
        if not any(k == p or k in p.parents for k in keep):
            keep = [k for k in keep if p not in k.parents] + [p]
    return sorted(keep)


@dataclass
class Unshare(Sandbox):
    """The fallback without bubblewrap: only a private, empty network namespace (`unshare --net`)."""

    unshare: str
    reason: str = ""  # why not bubblewrap

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"unshare --net ({self.reason})" if self.reason else "unshare --net"

    def wrap(self, argv: Sequence[str], *, writable: Sequence[Path], cwd: Path, hidden: Sequence[Path] = ()) -> list[str]:
        return [self.unshare, "--net", "--", *argv]
