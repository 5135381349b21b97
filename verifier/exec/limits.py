"""How many processes a build may have, and how every one of them is found and killed afterwards.

A pids cgroup where this process may create one (root, with cgroup v1's `pids` hierarchy or a cgroup v2
group that delegates `pids`): `pids.max` refuses forks past the limit, and `cgroup.procs` lists every
process of the build, however it detached itself (setsid, double fork), so all are killed at the end.
Elsewhere RLIMIT_NPROC (counted per user, so set to what the user runs now plus the limit; the kernel
ignores it for root), and the processes still found below the build's first process are killed."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
import uuid
from pathlib import Path

__all__ = ["DEFAULT_PROCESSES", "ProcessLimit", "process_limit"]

DEFAULT_PROCESSES = 4096  # tasks (processes and threads) of one build: make -jN of zig, each with N threads

_CGROUP_FS = Path("/sys/fs/cgroup")


class ProcessLimit:
    """No cgroup: RLIMIT_NPROC in the child (not for root), and the child's descendants killed at the end."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._nproc: int | None = None
        if limit is not None and os.getuid() != 0:
            self._nproc = _tasks_of(os.getuid()) + limit

    @property
    def mechanism(self) -> str:
        if self.limit is None:
            return "processes unlimited"
        if self._nproc is None:
            return f"processes not limited (no pids cgroup here, and RLIMIT_NPROC does not bind root; wanted {self.limit})"
        return f"processes {self.limit} (RLIMIT_NPROC {self._nproc} for uid {os.getuid()})"

    def preexec(self) -> None:
        """In the child, between fork and exec."""
        if self._nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (self._nproc, self._nproc))

    def limit_hit(self) -> bool:
        return False

    def kill_all(self, first: int) -> int:
        """SIGKILL `first`'s process group and every process still below it; returns how many were found."""
        victims = _descendants(first)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(first, signal.SIGKILL)
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return len(victims)

    def close(self) -> None:
        pass


class _Cgroup(ProcessLimit):
    def __init__(self, limit: int, path: Path, version: int) -> None:
        super().__init__(None)
        self.limit, self.path, self.version = limit, path, version
        path.mkdir()
        (path / "pids.max").write_text(str(limit))
        self._procs = os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)

    @property
    def mechanism(self) -> str:
        return f"processes {self.limit} (cgroup v{self.version} pids)"

    def preexec(self) -> None:
        os.write(self._procs, b"0")  # this child, and so all it starts, into the cgroup

    def limit_hit(self) -> bool:
        for line in _read(self.path / "pids.events").splitlines():
            key, _, n = line.partition(" ")
            if key == "max" and n.strip() not in ("", "0"):
                return True
        return False

    def _members(self) -> list[int]:
        """The live processes of the cgroup (zombies wait for their parent; killing them does nothing)."""
        return [int(p) for p in _read(self.path / "cgroup.procs").split() if _state(int(p)) not in ("Z", "")]

    def kill_all(self, first: int) -> int:
        """SIGKILL everything in the cgroup until it is empty (forks stay bounded by pids.max meanwhile)."""
        seen: set[int] = set()
        if self.version == 2 and (self.path / "cgroup.kill").exists():
            seen.update(self._members())
            (self.path / "cgroup.kill").write_text("1")
        for _ in range(2000):
            members = [p for p in self._members() if p != os.getpid()]
            if not members:
                break
            seen.update(members)
            for pid in members:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
        seen.discard(first)
        return len(seen)

    def close(self) -> None:
        os.close(self._procs)
        for _ in range(40):  # killed processes leave the cgroup once reaped
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.005)
        # Still busy: an orphaned zombie waits for an init that reaps late. The next build removes it.


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _state(pid: int) -> str:
    stat = _read(Path(f"/proc/{pid}/stat"))
    return stat.rsplit(")", 1)[1].split()[0] if stat else ""


def _own_cgroup(controller: str) -> tuple[Path, int] | None:
    """The directory of this process's cgroup that carries `controller`, and the cgroup version."""
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, rel = line.split(":", 2)
        if controller in controllers.split(","):
            return _CGROUP_FS / controller / rel.lstrip("/"), 1
        if controllers == "":
            for base in (_CGROUP_FS, _CGROUP_FS / "unified"):
                d = base / rel.lstrip("/")
                if controller in _read(d / "cgroup.subtree_control").split():
                    return d, 2
    return None


def process_limit(limit: int | None) -> ProcessLimit:
    """A fresh pids cgroup for one build if this process may make one, else the fallback."""
    if limit is not None:
        found = _own_cgroup("pids")
        if found is not None and os.access(found[0], os.W_OK):
            for stale in found[0].glob("casstore-build-*"):
                if _stale(stale):
                    with contextlib.suppress(OSError):  # a busy one stays
                        stale.rmdir()
            try:
                name = f"casstore-build-{os.getpid()}-{uuid.uuid4().hex[:12]}"
                return _Cgroup(limit, found[0] / name, found[1])
            except OSError:
                pass
    return ProcessLimit(limit)


def _stale(group: Path) -> bool:
    """A build cgroup left behind by a process that is gone. Never one of a live process (this one's
    other threads included): it may have been made a moment ago, still empty, for a build about to start."""
    parts = group.name.split("-")
    if len(parts) == 4 and parts[2].isdigit():
        pid = int(parts[2])
        return pid != os.getpid() and not Path(f"/proc/{pid}").exists()
    try:  # the older name without a pid: only when it is clearly old
        return time.time() - group.stat().st_mtime > 3600
    except OSError:
        return False


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        stat = _read(d / "stat")
        if not stat:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d.name))
    return kids


def _descendants(pid: int) -> list[int]:
    kids, out, todo = _children_map(), [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def _tasks_of(uid: int) -> int:
    """Processes and threads owned by `uid` now (what RLIMIT_NPROC counts)."""
    n = 0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid == uid:
                    n += sum(1 for _ in (d / "task").iterdir())
            except OSError:
                continue
    return n
