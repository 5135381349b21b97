"""Cross-target rebuild time: one sdist for the whole target matrix from this x86_64 host, per target and
in total, next to the native x86_64 build with the host gcc (`pip wheel`) and, as the anchor for the
emulation approach other tools take (cibuildwheel/docker with binfmt), one build run entirely under qemu:
Debian arm64's python3.11, setuptools and gcc-12 (cc1, as, collect2, ld) all emulated by qemu-aarch64-static.

    nice python benchmarks/cross_bench.py [--out benchmarks/results/cross.json] [--targets T...] [name==version]

Each (target, Python) is built once to warm the zig cache (and fetch its Debian sysroot into
.cache/sysroots), then timed: one build (fresh venv + offline build deps + zig cc + retag + auditwheel),
then separately its smoke import (under qemu-user for foreign architectures, under Wine for Windows x86_64; macOS and Windows arm64 have no
runtime here). Build dependencies come
offline from .cache/wheelhouse for every build, gcc's included.

The emulated build has no binfmt_misc here (none is registered, and registering one needs the host's
root), so an emulated program cannot exec another emulated one: gcc's driver gets `-B WRAPDIR/`, where
small host shell scripts named cc1, as, collect2 and ld exec qemu-aarch64-static on the real arm64 binaries
(what binfmt_misc would do). It times only `build_meta.build_wheel` (setuptools unpacked onto PYTHONPATH
beforehand, no venv, no auditwheel), so it is a lower bound for an emulated pip/build run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.rebuild_bench import gcc_wheel
from tests.verifier.pypi import fetch_sdist
from verifier import TARGETS, VARIATIONS, BuildSetup, detect_sandbox, get_python, get_target, make_recipe
from verifier.build.build import _foreign, _foreign_smoke, _smoke, _sysroot_for, build_once
from verifier.build.sdist import extract_sdist
from verifier.exec.command import run
from verifier.toolchain.sysroot import ensure_sysroot, find_qemu
from verifier.toolchain.zig import find_zig

CACHE = REPO / ".cache"

# Debian 12 arm64: gcc-12 and binutils as a native arm64 toolchain, with what cc1/as/ld link at run time.
GCC_ARM64 = (
    "gcc-12", "cpp-12", "libgcc-12-dev", "libc6-dev", "linux-libc-dev", "libcrypt-dev", "binutils-aarch64-linux-gnu",
    "libbinutils", "libctf-nobfd0", "libctf0", "libjansson4", "libisl23", "libmpc3", "libmpfr6", "libgmp10",
    "libzstd1", "libgomp1", "libatomic1", "libitm1", "libasan8", "liblsan0", "libtsan2", "libubsan1", "libhwasan0",
    "libcc1-0", "libgprofng0",
)
_BUILD_WHEEL = "import os, sys; os.chdir(sys.argv[1]); from setuptools import build_meta as b; print('WHEEL', b.build_wheel(sys.argv[2]))"


def emulated_build(sdist: Path, work: Path, wheelhouse: Path, sysroots: Path) -> dict[str, object]:
    """Build `sdist` for aarch64 with arm64 python3.11 + setuptools + gcc-12, everything under qemu."""
    target = get_target("aarch64-linux-gnu.2.17")
    root = ensure_sysroot(target, sysroots, "3.11", extra=GCC_ARM64, name="gcc").root
    qemu = find_qemu(target)
    wrap, site, out = work / "wrap", work / "site", work / "out"
    for d in (wrap, site, out):
        d.mkdir(parents=True)
    gcc_lib = root / "usr" / "lib" / "gcc" / "aarch64-linux-gnu" / "12"
    tools = {"cc1": gcc_lib / "cc1", "collect2": gcc_lib / "collect2", "as": root / "usr/bin/aarch64-linux-gnu-as",
             "ld": root / "usr/bin/aarch64-linux-gnu-ld.bfd"}
    for name, exe in [*tools.items(), ("gcc", root / "usr/bin/aarch64-linux-gnu-gcc-12")]:
        extra = f" -B {wrap}/" if name == "gcc" else ""
        (wrap / name).write_text(f'#!/bin/sh\nexec {qemu} -L {root} {exe}{extra} "$@"\n')
        (wrap / name).chmod(0o755)
    setuptools = max(wheelhouse.glob("setuptools-*-py3-none-any.whl"), key=lambda p: [int(x) for x in p.name.split("-")[1].split(".")])
    with zipfile.ZipFile(setuptools) as zf:
        zf.extractall(site)
    src = extract_sdist(sdist, work / "src")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LC_ALL": "C.UTF-8", "CC": str(wrap / "gcc"),
           "LDSHARED": f"{wrap / 'gcc'} -shared", "PYTHONPATH": str(site), "SOURCE_DATE_EPOCH": "1700000000"}
    r = run([qemu, "-L", str(root), str(root / "usr/bin/python3.11"), "-c", _BUILD_WHEEL, str(src), str(out)],
            cwd=work, env=env, log=work / "emulated.log", timeout=3600)
    wheels = sorted(out.glob("*.whl"))
    ok = r.ok and len(wheels) == 1 and any(n.endswith(".cpython-311-aarch64-linux-gnu.so")
                                           for n in zipfile.ZipFile(wheels[0]).namelist())
    return {"target": "aarch64, emulated: arm64 python3.11 + setuptools + gcc-12 under qemu", "ok": ok,
            "build_s": round(r.seconds, 2), "wheel": wheels[0].name if wheels else None,
            "toolchain": f"{root.parent.name}: gcc-12, binutils-aarch64-linux-gnu (Debian 12 arm64)"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("package", nargs="?", default="markupsafe==2.1.5")
    ap.add_argument("--targets", nargs="*", default=[t for t, v in TARGETS.items()
                                                      if v.os != "linux" or get_python("3.11").has_arch(v.debian_arch)],
                    help="targets built for CPython 3.11 (default: every Linux one Debian 12 has a Python for, "
                         "and macOS and Windows)")
    ap.add_argument("--python313-targets", nargs="*",
                    default=["x86_64-linux-gnu.2.17", "aarch64-linux-gnu.2.17", "riscv64-linux-gnu.2.31"],
                    help="targets built for CPython 3.13 (Debian trixie)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cross.json")
    args = ap.parse_args(argv)
    wheelhouse, zig_cache, sysroots = CACHE / "wheelhouse", CACHE / "zig", CACHE / "sysroots"
    name, version = args.package.split("==")
    sdist = fetch_sdist(name, version, CACHE)
    sandbox = detect_sandbox()
    warm = replace(VARIATIONS[0], cold_cache=False)
    rows: list[dict[str, object]] = []
    print("| target | python | ok | build s (venv + deps + zig + auditwheel) | smoke | smoke s |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        ok, gcc_s = gcc_wheel(sdist, work, wheelhouse)
        rows.append({"target": "x86_64 native, gcc `pip wheel`", "python": "3.11", "ok": ok, "build_s": round(gcc_s, 2)})
        print(f"| x86_64 native (host gcc, `pip wheel`) | 3.11 | {ok} | {gcc_s:.2f} | | |", flush=True)
        total = {"3.11": 0.0, "3.13": 0.0}
        plan = [(t, "3.11") for t in args.targets] + [(t, "3.13") for t in args.python313_targets]
        for tname, pyv in plan:
            tdir = work / f"{tname}-{pyv}"
            t, py = get_target(tname), get_python(pyv)
            recipe = make_recipe(sdist, tname, setup=BuildSetup(wheelhouse=wheelhouse, sysroots=sysroots), workdir=tdir,
                                 python=pyv)
            setup = BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, sysroots=sysroots)
            build_once(sdist, recipe, warm, workdir=tdir / "prime", setup=setup, smoke=False)
            b = build_once(sdist, recipe, warm, workdir=tdir / "b", setup=setup, smoke=False)
            smoke, smoke_s = None, 0.0
            if b.ok and b.wheel is not None:
                t0 = time.monotonic()
                foreign = _foreign(t, py, sysroots, find_zig())
                if foreign is not None:  # Windows x86_64 under Wine; macOS and Windows arm64: no runtime here
                    smoke = _foreign_smoke(b.wheel, b.ext_modules, t, tdir / "smoke", sandbox, tdir / "smoke.log", foreign)
                else:
                    smoke = _smoke(b.wheel, b.ext_modules, t, tdir / "smoke", sandbox, tdir / "smoke.log",
                                   _sysroot_for(t, sysroots, py), py)
                smoke_s = time.monotonic() - t0
            total[pyv] += b.seconds
            rows.append({"target": tname, "python": pyv, "ok": b.ok, "build_s": round(b.seconds, 2), "smoke": smoke,
                         "smoke_s": round(smoke_s, 2), "wheel": b.wheel.name if b.wheel else None,
                         "policy": b.auditwheel_policy, "failure": b.failure})
            print(f"| {tname} | {pyv} | {b.ok} | {b.seconds:.2f} | {smoke} | {smoke_s:.2f} |", flush=True)
        for pyv, n in (("3.11", len(args.targets)), ("3.13", len(args.python313_targets))):
            rows.append({"target": f"whole matrix ({n} targets, sequential builds)", "python": pyv,
                         "build_s": round(total[pyv], 2)})
            print(f"| whole matrix ({n} targets, sequential) | {pyv} | | {total[pyv]:.2f} | | |", flush=True)
        emu = emulated_build(sdist, work / "emulated", wheelhouse, sysroots)
        rows.append(emu)
        print(f"| {emu['target']} | 3.11 | {emu['ok']} | {emu['build_s']:.2f} | | |", flush=True)
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"package": args.package, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
