"""The one place the verifier runs subprocesses: clean env, time, memory and process limits, output to a log.

Whatever happens, no process of the command outlives `run`: on a timeout and after a normal exit,
everything left in the command's process cgroup (or, without one, its process group) is killed."""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .limits import DEFAULT_PROCESSES, ProcessLimit, process_limit
from .sandbox import NoSandbox, Sandbox

__all__ = ["DEFAULT_MEMORY", "DEFAULT_PROCESSES", "DEFAULT_TIMEOUT", "RunResult", "describe_limits", "run"]

DEFAULT_TIMEOUT = 1800.0
DEFAULT_MEMORY = 16 << 30  # address-space limit; zig reserves a lot of virtual memory


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    returncode: int
    seconds: float
    timed_out: bool
    sandbox: str
    output: str  # the tail of the output; the whole output is in the log file when one was given
    process_limit_hit: bool = False  # a fork was refused because the command had `processes` already
    leftovers: int = 0  # processes still running when the command ended (or timed out), all killed
    limits: str = ""  # what bounded the command, as `describe_limits` says

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def describe_limits(timeout: float, memory: int | None, procs: ProcessLimit) -> str:
    mem = f"memory {memory >> 20} MiB (RLIMIT_AS)" if memory is not None else "memory unlimited"
    return f"timeout {timeout:g} s; {mem}; {procs.mechanism}"


def _limits(memory: int | None, cpus: int | None, procs: ProcessLimit) -> None:
    procs.preexec()
    if cpus is not None:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cpus])
    if memory is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path | None = None,
    sandbox: Sandbox | None = None,
    writable: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
    timeout: float = DEFAULT_TIMEOUT,
    memory: int | None = DEFAULT_MEMORY,
    processes: int | None = DEFAULT_PROCESSES,
    umask: int = 0o022,
    cpus: int | None = None,
    tail: int = 4000,
) -> RunResult:
    """Run `argv` with exactly `env` (nothing inherited), on at most `cpus` CPUs, with at most `processes`
    processes, killed after `timeout` seconds; `writable` and `hidden` go to the sandbox. Never raises for a
    failing command."""
    sandbox = sandbox or NoSandbox()
    full = sandbox.wrap(argv, writable=writable, cwd=cwd, hidden=hidden)
    start = time.monotonic()
    timed_out, leftovers = False, 0
    procs = process_limit(processes)
    limits = describe_limits(timeout, memory, procs)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab+") if log is not None else tempfile.TemporaryFile() as out:
        out.write(("$ " + " ".join(argv) + "\n").encode())
        out.flush()
        try:
            proc = subprocess.Popen(
                full,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                umask=umask,
                # only setrlimit/sched_setaffinity and one write to cgroup.procs run between fork and exec
                preexec_fn=lambda: _limits(memory, cpus, procs),  # noqa: PLW1509
            )
        except (OSError, subprocess.SubprocessError) as e:
            out.write(f"cannot run {argv[0]!r}: {e}\n".encode())
            rc = 127
        else:
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                leftovers = procs.kill_all(proc.pid)
                rc = proc.wait()
                out.write(f"\ntimed out after {timeout:g} s\n".encode())
            else:
                leftovers = procs.kill_all(proc.pid)
            if leftovers:
                out.write(f"\nkilled {leftovers} process(es) of the command that were still running\n".encode())
        finally:
            hit = procs.limit_hit()
            procs.close()
        if hit:
            out.write(f"\nthe command reached its process limit ({processes}): forks were refused\n".encode())
        out.flush()
        size = out.seek(0, os.SEEK_END)
        out.seek(max(0, size - tail))
        data = out.read()
    seconds = time.monotonic() - start
    return RunResult(tuple(argv), rc, seconds, timed_out, sandbox.name, data.decode(errors="replace"), hit, leftovers,
                     limits)
