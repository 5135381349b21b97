"""Does a wheel work? auditwheel's policy, and an import of each extension module in a fresh venv."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import ToolMissing
from ..exec.command import run
from ..exec.sandbox import Sandbox
from ..toolchain.windows import WINE, WindowsPython, windows_path

__all__ = ["auditwheel_policy", "policy_satisfies", "qemu_smoke_test", "smoke_passed", "smoke_test", "sysroot_smoke_test",
           "unpack_wheel", "wine_smoke_test"]

_LEGACY = {"manylinux1": "manylinux_2_5", "manylinux2010": "manylinux_2_12", "manylinux2014": "manylinux_2_17"}


def _parse_policy(tag: str) -> tuple[str, tuple[int, int], str] | None:
    for old, new in _LEGACY.items():
        if tag.startswith(old + "_"):
            tag = new + tag[len(old) :]
    parts = tag.split("_", 3)
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], (int(parts[1]), int(parts[2])), parts[3]


def policy_satisfies(policy: str | None, platform_tag: str) -> bool:
    """Whether a wheel auditwheel graded `policy` may carry `platform_tag` (same family and arch, and a
    libc no newer than the tag's)."""
    if policy is None:
        return False
    have, want = _parse_policy(policy), _parse_policy(platform_tag)
    if have is None or want is None:
        return False
    return have[0] == want[0] and have[2] == want[2] and have[1] <= want[1]

_IMPORT = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and not name.startswith(e.name) and e.name.split('.')[0] != name.split('.')[0]:
            print(f"SKIP {name}: missing runtime dependency {e.name}")
            continue
        raise
    print(f"OK {name}")
"""


def auditwheel_policy(wheel: Path, *, log: Path) -> str | None:
    """The platform tag `auditwheel show` says the wheel is consistent with, or None if it rejects it."""
    exe = shutil.which("auditwheel") or str(Path(sys.executable).parent / "auditwheel")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(wheel.parent), "LC_ALL": "C.UTF-8"}
    out_path = log.with_name(log.stem + ".auditwheel.json")
    out_path.unlink(missing_ok=True)
    r = run([exe, "show", "--json", str(wheel)], cwd=wheel.parent, env=env, log=out_path, timeout=300)
    if not r.ok:
        return None
    text = out_path.read_text(errors="replace")
    out = text[text.find("{") :]
    try:
        data = json.loads(out)
    except json.JSONDecodeError:
        return None
    policies = [p for p in _tags(data) if p]
    return policies[0] if policies else None


def _tags(data: dict[str, object]) -> list[str]:
    # auditwheel 6: {"policy": {"name": ...}} / older: {"overall_policy": ...}; be liberal in what we read
    for key in ("overall_tag", "overall_policy", "policy"):
        v = data.get(key)
        if isinstance(v, dict):
            v = v.get("name")
        if isinstance(v, str):
            return [v]
    return []


def smoke_test(
    wheel: Path, modules: Sequence[str], workdir: Path, *, sandbox: Sandbox | None, log: Path, timeout: float = 300
) -> str:
    """Install `wheel` (no deps) into a fresh venv under `workdir` and import each module: "ok" or why not."""
    workdir.mkdir(parents=True, exist_ok=True)
    venv = workdir / "smoke-venv"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "LC_ALL": "C.UTF-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    r = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=workdir, env=env, log=log)
    if not r.ok:
        return "cannot create smoke venv"
    py = venv / "bin" / "python"
    r = run([sys.executable, "-m", "pip", "--python", str(py), "install", "--isolated", "--no-index", "--no-deps",
             "--quiet", str(wheel)], cwd=workdir, env=env, log=log, timeout=timeout)
    if not r.ok:
        return f"wheel does not install: {r.output.strip().splitlines()[-1] if r.output.strip() else r.returncode}"
    r = run([str(py), "-I", "-c", _IMPORT, *modules], cwd=workdir, env=env, log=log, sandbox=sandbox,
            writable=[workdir], timeout=timeout)
    if not r.ok:
        lines = r.output.strip().splitlines()
        return f"import failed: {lines[-1] if lines else r.returncode}"
    return "ok"


SKIPPED = "skipped: "


def smoke_passed(result: str | None) -> bool:
    """A smoke test passed, or could not be run at all on this host (the record says why, e.g. musl)."""
    return result == "ok" or (result or "").startswith(SKIPPED)


def unpack_wheel(wheel: Path, dest: Path) -> None:
    """Unpack a wheel we built ourselves as an import path: no member may escape `dest`."""
    dest.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            p = (dest / name).resolve()
            if not p.is_relative_to(dest.resolve()):
                raise ValueError(f"wheel member escapes its destination: {name!r}")
        zf.extractall(dest)


def qemu_smoke_test(
    wheel: Path, modules: Sequence[str], workdir: Path, *, qemu: str, root: Path, python: Path,
    sandbox: Sandbox | None, log: Path, timeout: float = 600,
) -> str:
    """Import each module with the target's own CPython (from a Debian sysroot) under qemu-user: "ok" or
    why not. qemu's `-L` makes the target's loader and libc found."""
    return sysroot_smoke_test(wheel, modules, workdir, python=[qemu, "-L", str(root), str(python)],
                              label=Path(qemu).name, sandbox=sandbox, log=log, timeout=timeout)


def sysroot_smoke_test(
    wheel: Path, modules: Sequence[str], workdir: Path, *, python: Sequence[str], label: str,
    sandbox: Sandbox | None, log: Path, timeout: float = 600,
) -> str:
    """Import each module with a sysroot's CPython, run by the command `python` (under qemu-user, or
    through the sysroot's own loader on this host): "ok" or why not. The wheel is unpacked onto PYTHONPATH."""
    workdir.mkdir(parents=True, exist_ok=True)
    site = workdir / "site"
    if site.exists():
        shutil.rmtree(site)
    try:
        unpack_wheel(wheel, site)
    except (ValueError, zipfile.BadZipFile) as e:
        return f"wheel does not unpack: {e}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "LC_ALL": "C.UTF-8", "PYTHONPATH": str(site),
           "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    r = run([*python, "-s", "-c", _IMPORT, *modules], cwd=workdir, env=env, log=log,
            sandbox=sandbox, writable=[workdir], timeout=timeout)
    if not r.ok:
        lines = r.output.strip().splitlines()
        return f"import failed under {label}: {lines[-1] if lines else r.returncode}"
    return "ok"


def wine_smoke_test(wheel: Path, modules: Sequence[str], workdir: Path, *, python: WindowsPython,
                    sandbox: Sandbox | None, log: Path, timeout: float = 600) -> str:
    """Import each module with python.org's embeddable CPython for Windows under Wine (toolchain/windows.py),
    in a fresh WINEPREFIX: "ok" or why not. The wheel is unpacked into a directory named in the build's own
    copy of the interpreter's `._pth` file (the embeddable CPython ignores PYTHONPATH)."""
    if not WINE.is_file():
        raise ToolMissing(str(WINE), "wine64")
    if not python.embed.is_dir():
        return SKIPPED + f"no CPython for Windows {python.arch} to run here"
    workdir.mkdir(parents=True, exist_ok=True)
    for d in ("site", "python", "prefix"):
        shutil.rmtree(workdir / d, ignore_errors=True)
    try:
        unpack_wheel(wheel, workdir / "site")
    except (ValueError, zipfile.BadZipFile) as e:
        return f"wheel does not unpack: {e}"
    interp = workdir / "python"
    shutil.copytree(python.embed, interp)
    (interp / f"{python.dll_name}._pth").write_text(f"{python.dll_name}.zip\n.\n{windows_path(workdir / 'site')}\n")
    script = workdir / "smoke_import.py"
    script.write_text(_IMPORT)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "LC_ALL": "C.UTF-8", "WINEPREFIX": str(workdir / "prefix"),
           "WINEDEBUG": "-all", "WINEDLLOVERRIDES": "mscoree,mshtml=", "DISPLAY": ""}
    # Wine 8 hands a Windows program an invalid handle for a stdout that is a regular file (the log), and
    # CPython stops at init_sys_streams: the output goes through a pipe (pipefail keeps python.exe's status)
    argv = ["/bin/bash", "-o", "pipefail", "-c", '"$@" 2>&1 | cat', "wine", str(WINE), str(interp / "python.exe"),
            windows_path(script), *modules]
    r = run(argv, cwd=workdir, env=env, log=log, sandbox=sandbox, writable=[workdir], timeout=timeout, memory=None)
    done = [m for m in modules if f"OK {m}" in r.output or f"SKIP {m}" in r.output]
    if not r.ok or len(done) != len(modules):
        lines = [ln for ln in r.output.strip().splitlines() if not ln.startswith("wine:")]
        return f"import failed under Wine: {lines[-1] if lines else r.returncode}"
    return "ok"
