"""The one place the verifier runs subprocesses: clean env, time and memory limits, output to a log."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._sandbox import NoSandbox, Sandbox

__all__ = ["DEFAULT_MEMORY", "DEFAULT_TIMEOUT", "RunResult", "run"]

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

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _limits(memory: int | None, cpus: int | None) -> None:
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
    timeout: float = DEFAULT_TIMEOUT,
    memory: int | None = DEFAULT_MEMORY,
    umask: int = 0o022,
    cpus: int | None = None,
    tail: int = 4000,
) -> RunResult:
    """Run `argv` with exactly `env` (nothing inherited), on at most `cpus` CPUs; never raises for a failing command."""
    sandbox = sandbox or NoSandbox()
    full = sandbox.wrap(argv, writable=writable, cwd=cwd)
    start = time.monotonic()
    timed_out = False
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
                # only setrlimit/sched_setaffinity run between fork and exec
                preexec_fn=lambda: _limits(memory, cpus),  # noqa: PLW1509
            )
        except OSError as e:
            out.write(f"cannot run {argv[0]!r}: {e}\n".encode())
            rc = 127
        else:
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                rc = proc.wait()
                out.write(f"\ntimed out after {timeout:.0f} s\n".encode())
        out.flush()
        size = out.seek(0, os.SEEK_END)
        out.seek(max(0, size - tail))
        data = out.read()
    seconds = time.monotonic() - start
    return RunResult(tuple(argv), rc, seconds, timed_out, sandbox.name, data.decode(errors="replace"))
