"""A musl CPython to smoke-test musllinux wheels on their target, built here with Zig (Debian has none).

Source: the upstream tarball of Debian 12's `python3.11` source package (`python3.11_3.11.2.orig.tar.gz`),
fetched with `apt-get source --download-only` through a private apt state whose sources.list has one
`deb-src` line for bookworm (the host's dpkg and apt configuration are never touched; apt checks the file
against the signed Sources index). Debian's own patches are not applied: this is upstream 3.11.2.

Build: `zig cc -target <arch>-linux-musl` (the pinned ziglang, through `Zig.write_wrappers`) as a cross
build (`--build` this host, `--host` the musl triple, `--with-build-python=/usr/bin/python3.11`, the host's
own 3.11.2), `-dynamic` so that extension modules can be dlopen()ed, `--disable-test-modules
--without-ensurepip`; modules whose libraries zig's musl does not have (ssl, sqlite, zlib, ...) are left
out, which an import smoke test does not need. Patches: 3.11's `configure` picks the musl platform
triplet from the *build* OS (fixed upstream later), so a cross build would name its extension suffix
`-linux-gnu`: it is made to look at the host OS, giving `.cpython-311-<arch>-linux-musl.so` like Alpine;
setup.py's host include paths (glibc headers) are dropped; bytecode is not compiled at install time (the
smoke test runs with PYTHONDONTWRITEBYTECODE anyway). The interpreter is a PIE, and configure is told
that preadv2/pwritev2 are missing (zig's headers are musl 1.2.5, the runtime below is 1.2.3). After the
build the interpreter must start and import two of its extension modules, or nothing is cached.

Run: the interpreter's PT_INTERP is `/lib/ld-musl-<arch>.so.1`, which comes from Debian's `musl` package for
the architecture (`apt-get download musl:<arch>`), unpacked into the same root. On x86_64 the root's loader
runs the interpreter directly; on aarch64 `qemu-aarch64-static -L ROOT ROOT/usr/bin/python3.11`.

The result is cached as `<cache>/musl-cpython-3.11.2-<arch>-zig<version>/` (built in a temporary directory,
renamed into place, a `stamp.json` naming the source, the musl .deb and the build time)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolMissing, VerifierError
from ..exec.command import run
from .debsource import apt_env, apt_get, orig_tarball
from .sysroot import find_qemu
from .targets import Target, get_target
from .zig import Zig, find_zig

__all__ = ["MUSL_PYTHON_SOURCE", "MUSL_PYTHON_VERSION", "MuslPython", "ensure_musl_python", "musl_python_key"]

MUSL_PYTHON_SOURCE = ("python3.11", "3.11.2")  # Debian 12's source package and its upstream version
_BUILD_PYTHON = "/usr/bin/python3.11"  # Debian's python3.11-minimal: the same 3.11.2 as the source
MUSL_PYTHON_VERSION = "3.11"  # the CPython version built (musl results for others are not imported)
# Answers configure cannot find out by running programs in a cross build (the target's kernel has both).
# preadv2/pwritev2: zig's musl headers are newer (1.2.5) than Debian's musl 1.2.3 that runs the result.
_CONFIG_SITE = ("ac_cv_file__dev_ptmx=yes\nac_cv_file__dev_ptc=no\nac_cv_buggy_getaddrinfo=no\n"
                "ac_cv_func_preadv2=no\nac_cv_func_pwritev2=no\n")
# The interpreter is linked as a PIE: a non-PIE one gets copy relocations (`environ`) that crash musl 1.2.3's
# getenv at start. Not in CFLAGS/LDFLAGS: setup.py links extension modules with them, and zig takes
# -fPIE/-pie there as "make an executable".
_PIE = ("CFLAGS_NODIST=-fPIE", "LINKFORSHARED=-Xlinker -export-dynamic -pie")  # core objects only, not setup.py's
# setup.py of a cross build adds the *host's* /usr/include and /usr/include/<multiarch> (glibc headers);
# zig's musl headers are the only ones this build may see.
_SETUP_PATCH = ("""        if CROSS_COMPILING:
            self.add_cross_compiling_paths()
        self.add_multiarch_paths()
""", "")
_TRIPLET_PATCH = ('  PLATFORM_TRIPLET=`grep -v \'^#\' conftest.out | grep -v \'^ *$\' | tr -d \' \t\'`\n  case "$build_os" in',
                  '  PLATFORM_TRIPLET=`grep -v \'^#\' conftest.out | grep -v \'^ *$\' | tr -d \' \t\'`\n  case "$host_os" in')


@dataclass(frozen=True)
class MuslPython:
    root: Path  # usr/bin/python3.11 and lib/ld-musl-<arch>.so.1 inside
    arch: str
    stamp: dict[str, object]

    @property
    def python(self) -> Path:
        return self.root / "usr" / "bin" / f"python{MUSL_PYTHON_VERSION}"

    @property
    def loader(self) -> Path:
        return self.root / "lib" / f"ld-musl-{self.arch}.so.1"

    def argv(self, qemu: str | None = None) -> list[str]:
        """The command that runs this interpreter: its own loader on a host of its architecture, else
        `qemu` with `-L ROOT` (qemu then finds the loader the interpreter names inside the root)."""
        if qemu is None:
            return [str(self.loader), str(self.python)]
        return [qemu, "-L", str(self.root), str(self.python)]

    def host_argv(self, machine: str | None = None) -> list[str]:
        """`argv` for this host: native when the architectures match, else under the target's qemu-user."""
        return self.argv(None if self.arch == (machine or platform.machine()) else find_qemu(self.target))

    @property
    def target(self) -> Target:
        return get_target(f"{self.arch}-linux-musl")


def musl_python_key(arch: str, zig_version: str) -> str:
    """The cache directory name: what the interpreter is built from (source version, zig version, arch)."""
    return f"musl-cpython-{MUSL_PYTHON_SOURCE[1]}-{arch}-zig{zig_version}"


def _source(cache: Path, log: Path) -> Path:
    """The upstream tarball of Debian's python3.11 source package, fetched once into `cache`."""
    package, version = MUSL_PYTHON_SOURCE
    return orig_tarball(package, f"{package}_{version}.orig.tar.gz", cache, log)


def _musl_deb(tmp: Path, darch: str, log: Path) -> Path:
    files = apt_get(tmp, darch, ["download", "musl"], log, source=False)
    debs = [f for f in files if f.name.startswith("musl_") and f.name.endswith(".deb")]
    if len(debs) != 1:
        raise VerifierError(f"apt-get download musl for {darch} gave {[f.name for f in files]} (log: {log})")
    return debs[0]


def _unpack_source(tarball: Path, dest: Path) -> Path:
    with tarfile.open(tarball) as tf:
        tf.extractall(dest, filter="data")
    src = dest / f"Python-{MUSL_PYTHON_SOURCE[1]}"
    configure = src / "configure"
    text = configure.read_text()
    if _TRIPLET_PATCH[0] not in text:
        raise VerifierError(f"{tarball.name}: configure has no platform-triplet case to patch")
    configure.write_text(text.replace(*_TRIPLET_PATCH))
    setup = src / "setup.py"
    text = setup.read_text()
    if _SETUP_PATCH[0] not in text:
        raise VerifierError(f"{tarball.name}: setup.py adds no host include paths to patch out")
    setup.write_text(text.replace(*_SETUP_PATCH))
    makefile = src / "Makefile.pre.in"  # no bytecode at install: its compileall lines run nothing
    makefile.write_text(makefile.read_text().replace("$(DESTDIR)$(LIBDEST)/compileall.py", "-c pass"))
    return src


def _build(target: Target, zig: Zig, src: Path, work: Path, root: Path, log: Path, jobs: int, zig_cache: Path) -> None:
    tools = zig.write_wrappers(work / "bin", target, cache_dir=zig_cache, prefix_map={src: "/usr/src/python"})
    for k in ("LDSHARED", "LDCXXSHARED"):  # configure makes its own from CC
        tools.pop(k)
    (work / "config.site").write_text(_CONFIG_SITE)
    readelf = shutil.which("readelf")
    if readelf is None:
        raise ToolMissing("readelf", "binutils")
    # LDFLAGS: zig links musl executables statically unless told; 3.11's configure appends to it with no space.
    env = {**apt_env(work), **tools, "CONFIG_SITE": str(work / "config.site"), "LDFLAGS": "-dynamic ",
           "READELF": readelf, "PKG_CONFIG": "/bin/false", "CFLAGS": "-O1 -Wno-date-time"}  # zig makes __DATE__ an error
    build = work / "build"
    build.mkdir()
    steps = [
        [str(src / "configure"), f"--build={platform.machine()}-pc-linux-gnu", f"--host={target.gnu_type}",
         "--prefix=/usr", f"--with-build-python={_BUILD_PYTHON}", "--disable-test-modules", "--without-ensurepip"],
        ["nice", "-n", "10", "make", f"-j{jobs}", *_PIE],
        ["nice", "-n", "10", "make", "install", f"DESTDIR={root}", *_PIE],
    ]
    for argv in steps:
        r = run(argv, cwd=build, env=env, log=log, timeout=7200, memory=None, processes=None)
        if not r.ok:
            step = " ".join(argv[3:5]) if argv[0] == "nice" else "configure"
            raise VerifierError(f"musl CPython for {target.arch}: {step} failed (log: {log})")


def ensure_musl_python(arch: str, cache: Path, *, zig: Zig | None = None, jobs: int | None = None) -> MuslPython:
    """The musl CPython 3.11 for `arch` (x86_64, aarch64) under `cache`, built (minutes) if missing."""
    target = get_target(f"{arch}-linux-musl")
    if not os.path.exists(_BUILD_PYTHON):
        raise ToolMissing(_BUILD_PYTHON, "python3.11-minimal")
    zig = zig or find_zig()
    cache = cache.absolute()
    cache.mkdir(parents=True, exist_ok=True)
    key = musl_python_key(arch, zig.version)
    top = cache / key
    with open(cache / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (top / "stamp.json").is_file():
            log = cache / f"{key}.log"
            log.unlink(missing_ok=True)
            tarball = _source(cache, log)
            tmp = cache / f".{key}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            (tmp / "work").mkdir(parents=True)
            start = time.monotonic()
            deb = _musl_deb(tmp / "work", target.debian_arch, log)
            if not run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], cwd=tmp, env=apt_env(tmp), log=log).ok:
                raise VerifierError(f"cannot unpack {deb.name!r} (log: {log})")
            src = _unpack_source(tarball, tmp / "work")
            _build(target, zig, src, tmp / "work", tmp / "root", log, jobs or os.cpu_count() or 1,
                   tmp / "work" / "zig-cache")  # ~350 MB of objects by the end: removed with the work dir
            built = MuslPython(tmp / "root", arch, {})
            r = run([*built.host_argv(), "-c", "import sys, _struct, math; print(sys.version)"], cwd=tmp,
                    env=apt_env(tmp), log=log, timeout=600)
            if not r.ok:
                raise VerifierError(f"the musl CPython built for {arch} does not start (log: {log})")
            stamp = {"source": f"debian:{tarball.name}", "source_sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
                     "musl": f"debian:{deb.name}", "zig": zig.version, "target": target.zig_triple,
                     "build_seconds": round(time.monotonic() - start, 1)}
            shutil.rmtree(tmp / "work")
            (tmp / "stamp.json").write_text(json.dumps(stamp, indent=1))
            shutil.rmtree(top, ignore_errors=True)
            tmp.rename(top)
    return MuslPython(top / "root", arch, json.loads((top / "stamp.json").read_text()))
