"""Which sandbox works on this machine: bubblewrap, else `unshare --net`, else none, with the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

from .command import run
from .sandbox import Bubblewrap, NoSandbox, Sandbox, Unshare

__all__ = ["detect_sandbox"]


def detect_sandbox(prefer: bool = True, *, path: str | None = None) -> Sandbox:
    """Bubblewrap if installed (on `path`, default $PATH) and working here (it needs user namespaces), else
    `unshare --net` if that works, else NoSandbox. The fallbacks carry the reason into their name, so the
    record says which sandbox ran and why not a better one."""
    if not prefer:
        return NoSandbox("no sandbox asked for")
    env = {"PATH": "/usr/bin:/bin"}
    exe = shutil.which("bwrap", path=path)
    why = "bubblewrap unavailable: no bwrap on PATH"
    if exe is not None:
        r = run(["true"], cwd=Path("/"), env=env, sandbox=Bubblewrap(exe, "?"), timeout=20)
        if r.ok:
            out = run([exe, "--version"], cwd=Path("/"), env=env, timeout=20).output.split()
            return Bubblewrap(exe, out[-1] if out else "?")
        last = r.output.strip().splitlines()[-1:] or [f"exit code {r.returncode}"]
        why = f"bubblewrap unavailable: {exe} does not run here: {last[0]}"
    un = shutil.which("unshare", path=path)
    if un is not None and run(["true"], cwd=Path("/"), env=env, sandbox=Unshare(un), timeout=20).ok:
        return Unshare(un, why)
    return NoSandbox(why + ("; no unshare on PATH" if un is None else "; unshare --net not permitted here"))
