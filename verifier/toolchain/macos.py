"""CPython 3.11 headers for the macOS targets (x86_64, aarch64), made here by a cross `configure` with Zig.

A C extension module for macOS needs CPython's `Include/` and a `pyconfig.h` for the target. Both come from
the source the musl CPython is built from (muslpython.py): the upstream tarball of Debian 12's `python3.11`
(`python3.11_3.11.2.orig.tar.gz`, sha256 pinned in `MACOS_PYTHON_SHA256`), fetched with
`debsource.orig_tarball`. Only `configure` runs, no `make`: its `pyconfig.h` goes next to a copy of
`Include/`, and the configure-generated Makefile variables that sysconfig would report on the target
(`EXT_SUFFIX` `.cpython-311-darwin.so`, `SOABI`, `LDSHARED`, `CCSHARED`, `MACHDEP`, ...) plus the `SIZEOF_*`
values of `pyconfig.h` go to `vars.json`. Makefile values are recorded as configure wrote them, unexpanded
(`LDSHARED` is `$(CC) -shared -undefined dynamic_lookup -Wl,-S $(PY_LDFLAGS)`).

Configure runs as a cross build: `--build` this host, `--host=<arch>-apple-darwin`,
`--with-build-python=/usr/bin/python3.11`, `CC` a script that runs `zig cc -target <arch>-macos.<min>`
(`Zig.write_wrappers`), `MACOSX_DEPLOYMENT_TARGET=<min>`. `<min>` is zig's default minimum macOS
(`default_macos_min`: measured from the LC_BUILD_VERSION of an object zig compiles; 15.0 for both arches
with zig 0.17.1, as its lib/std/Target.zig says) unless the caller names one. What had to be changed:

- 3.11's configure refuses cross builds for anything but Linux, Cygwin, VxWorks and WASM; it is patched
  to know `*-apple-darwin*` (system `Darwin`, release the Darwin kernel version of `<min>`, e.g. 24.0.0
  for macOS 15), and to not run the build host's `/usr/bin/arch` and `gcc -dumpversion` (it is given what
  `arch` prints on the target, and Apple clang's `4.2.1`). `sw_vers` is still run and missing: harmless,
  MACOSX_DEPLOYMENT_TARGET is set.
- Zig has no macOS frameworks; configure adds `-framework CoreFoundation` to LIBS part way, after which
  every link test would fail (stdatomic, __atomic builtins, shm_open, ...). The CC script passes `-F` to
  a stub `CoreFoundation.framework` (a .tbd with no symbols), so those links succeed.
- `MACOS_CONFIG_SITE`: the results configure finds by *running* a program, which a cross build cannot.
- Link tests check zig's libSystem.tbd, which is macOS SDK 27.0: functions it has that are newer than
  `<min>` (`_NEWER_THAN_MIN`, from the availability annotations of zig's headers) are answered "no".
- configure's Darwin `LDSHARED`/`LDCXXSHARED` are patched to `MACOS_LDSHARED_FLAGS`: its own `-bundle -undefined
  dynamic_lookup` makes zig 0.17.1 crash (SIGSEGV in its Mach-O linker; plain `-bundle` links an
  executable). `-shared` gives an MH_DYLIB, which CPython's dlopen() loads as well as a bundle; its Python
  symbols are bound by flat lookup and MH_NOUNDEFS is not set. `-Wl,-S` drops the debug map (N_OSO stabs
  naming the absolute path of each object file), or the module depends on the build directory.

Known differences from a configure on a Mac: zig's macOS headers lack `util.h` and `sys/xattr.h`, so
HAVE_UTIL_H and HAVE_SYS_XATTR_H are not defined; everything configure decides by compiling and linking
is decided against zig's headers and SDK 27.0 stubs.

The result is cached as `<cache>/macos-cpython-3.11.2-<arch>-zig<version>/` (`-<arch>.<min>-` when a
minimum other than zig's default is asked for), made in a temporary directory under a file lock and
renamed into place, with `include/`, `vars.json` and `stamp.json` (source, sha256, zig version, answers,
configure time). `pyconfig.h` is byte-identical from run to run."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolMissing, VerifierError
from ..exec.command import run
from ..exec.sandbox import Sandbox
from .debsource import apt_env, orig_tarball
from .macho import read_macho
from .targets import Target
from .zig import Zig, find_zig

__all__ = [
    "MACOS_CONFIG_SITE",
    "MACOS_LDSHARED_FLAGS",
    "MACOS_PYTHON_SHA256",
    "MACOS_PYTHON_SOURCE",
    "MacHeaders",
    "answers",
    "darwin_release",
    "default_macos_min",
    "ensure_macos_headers",
    "macos_headers_key",
]

MACOS_PYTHON_SOURCE = ("python3.11", "3.11.2")  # Debian 12's source package and its upstream version
MACOS_PYTHON_TARBALL = "python3.11_3.11.2.orig.tar.gz"
MACOS_PYTHON_SHA256 = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"
_BUILD_PYTHON = "/usr/bin/python3.11"  # Debian's python3.11-minimal: the same 3.11.2 as the source

# How an extension module is linked for macOS with zig 0.17.1 (see the module docstring): a dylib whose
# undefined symbols are looked up at load time in the interpreter, without the debug map's absolute paths.
MACOS_LDSHARED_FLAGS = ("-shared", "-undefined", "dynamic_lookup", "-Wl,-S")

# Answers to what configure finds by running a program on the target (a cross build cannot), as on macOS.
MACOS_CONFIG_SITE: dict[str, str] = {
    "ac_cv_file__dev_ptmx": "yes",  # macOS has /dev/ptmx (configure would look at the build host's /dev)
    "ac_cv_file__dev_ptc": "no",  # /dev/ptc is AIX's
    "ac_cv_buggy_getaddrinfo": "no",  # the run test passes on macOS (its getaddrinfo handles IPv6)
    "ac_cv_working_tzset": "yes",  # tzset() honours TZ changes on macOS; the cross guess is "no"
    "ac_cv_computed_gotos": "yes",  # clang has labels as values; the cross guess is "no"
    "ac_cv_have_size_t_format": "yes",  # printf("%zd") works in macOS's libc
    "ac_cv_broken_sem_getvalue": "yes",  # macOS's sem_getvalue() fails with ENOSYS
    "ac_cv_aligned_required": "no",  # x86_64 and arm64 load unaligned words; the cross guess is "yes"
    "ac_cv_pthread_is_default": "yes",  # pthreads are in libSystem: no -pthread, no -lpthread
}

# Functions zig's libSystem.tbd (SDK 27.0) links that are newer than an older deployment target, with the
# macOS version that introduced them (the __API_AVAILABLE annotations of zig 0.17.1's sys/unistd.h).
_NEWER_THAN_MIN: dict[str, tuple[int, int]] = {"pipe2": (27, 0), "dup3": (27, 0)}

# arch -> (Apple's name for it, what `/usr/bin/arch` prints there)
_ARCHES = {"x86_64": ("x86_64", "i386"), "aarch64": ("arm64", "arm64")}

# A stub CoreFoundation for configure's links (zig ships no frameworks); it exports nothing.
_COREFOUNDATION_TBD = """--- !tapi-tbd
tbd-version:     4
targets:         [ x86_64-macos, arm64-macos ]
install-name:    '/System/Library/Frameworks/CoreFoundation.framework/Versions/A/CoreFoundation'
...
"""

# The Makefile variables recorded in vars.json (configure's spelling, unexpanded).
_MAKEFILE_VARS = ("ABIFLAGS", "BASECFLAGS", "BLDSHARED", "CCSHARED", "CFLAGSFORSHARED", "EXT_SUFFIX",
                  "HOST_GNU_TYPE", "LDCXXSHARED", "LDSHARED", "LIBS", "LINKFORSHARED", "MACHDEP",
                  "MACOSX_DEPLOYMENT_TARGET", "MULTIARCH", "OPT", "SHLIB_SUFFIX",
                  "SOABI", "VERSION")


@dataclass(frozen=True)
class MacHeaders:
    include: Path  # Python.h, the rest of CPython's Include/ and the generated pyconfig.h
    vars: dict[str, object]  # Makefile values (str) and pyconfig.h's SIZEOF_* (int)
    stamp: dict[str, object]

    @property
    def pyconfig(self) -> Path:
        return self.include / "pyconfig.h"


def _arch(arch: str) -> tuple[str, str]:
    try:
        return _ARCHES[arch]
    except KeyError:
        raise VerifierError(f"no macOS target for arch {arch!r} (known: {', '.join(_ARCHES)})") from None


def _version(text: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\d+(\.\d+){0,2}", text):
        raise VerifierError(f"invalid macOS version: {text!r}")
    return tuple(int(p) for p in text.split("."))


def darwin_release(macos: str) -> str:
    """The Darwin kernel release of a macOS version: 10.15 -> 19.0.0, 11.x -> 20.0.0, 15.x -> 24.0.0,
    26.x -> 25.0.0 (what `uname -r` says there, and what configure's case statements match)."""
    v = _version(macos) + (0,)
    major = v[1] + 4 if v[0] == 10 else v[0] + 9 if v[0] <= 15 else v[0] - 1
    return f"{major}.0.0"


def _zig_env(home: Path, cache: Path) -> dict[str, str]:
    return {**apt_env(home), "ZIG_GLOBAL_CACHE_DIR": str(cache), "ZIG_LOCAL_CACHE_DIR": str(cache)}


@functools.cache
def _measured_min(exe: Path, arch: str) -> str:
    with tempfile.TemporaryDirectory(prefix="macos-min-") as d:
        tmp = Path(d)
        (tmp / "empty.c").write_text("int casstore_empty;\n")
        log = tmp / "log"
        r = run([str(exe), "cc", "-target", f"{arch}-macos", "-c", "empty.c", "-o", "empty.o"], cwd=tmp,
                env=_zig_env(tmp, tmp / "zig-cache"), log=log, timeout=600)
        if not r.ok:
            raise VerifierError(f"zig cc -target {arch}-macos cannot compile an empty file: {r.output.strip()[-300:]}")
        minos = read_macho(tmp / "empty.o").minos
    if minos is None:
        raise VerifierError(f"zig cc -target {arch}-macos wrote no LC_BUILD_VERSION")
    return minos


def default_macos_min(arch: str, zig: Zig | None = None) -> str:
    """The minimum macOS version zig targets for `arch` when the triple names none ("15.0" for zig 0.17.1),
    measured once per process: the LC_BUILD_VERSION minos of an object `zig cc -target <arch>-macos` makes."""
    _arch(arch)
    return _measured_min((zig or find_zig()).exe, arch)


def macos_headers_key(arch: str, zig_version: str, macos_min: str | None = None) -> str:
    """The cache directory name: source version, arch (and minimum macOS when not zig's default), zig."""
    what = arch if macos_min is None else f"{arch}.{macos_min}"
    return f"macos-cpython-{MACOS_PYTHON_SOURCE[1]}-{what}-zig{zig_version}"


def answers(macos_min: str) -> dict[str, str]:
    """The config.site answers for a deployment target: `MACOS_CONFIG_SITE` and the functions newer than it."""
    out = dict(MACOS_CONFIG_SITE)
    for func, since in sorted(_NEWER_THAN_MIN.items()):
        if _version(macos_min)[:2] < since:
            out[f"ac_cv_func_{func}"] = "no"
    return out


def _patches(arch: str, macos_min: str) -> list[tuple[str, str, int]]:
    """(old, new, occurrences) for 3.11.2's configure: cross builds for Darwin, no build-host tools."""
    ldshared = " ".join(MACOS_LDSHARED_FLAGS)
    return [
        ("\t*-*-vxworks*)\n\t    ac_sys_system=VxWorks\n",
         "\t*-apple-darwin*)\n\t\tac_sys_system=Darwin\n\t\t;;\n\t*-*-vxworks*)\n\t    ac_sys_system=VxWorks\n", 1),
        ("\tac_sys_release=\n    else",
         (f"\tac_sys_release=\n\tcase \"$host\" in *-apple-darwin*) ac_sys_release={darwin_release(macos_min)};; esac\n"
          "    else"), 1),
        ("\t*-*-vxworks*)\n\t\t_host_cpu=$host_cpu\n",
         "\t*-apple-darwin*)\n\t\t_host_cpu=$host_cpu\n\t\t;;\n\t*-*-vxworks*)\n\t\t_host_cpu=$host_cpu\n", 1),
        # a cross build guessed a 32-bit target; both macOS targets are 64-bit
        ('if test "$cross_compiling" = yes; then :\n  ac_osx_32bit=yes',
         'if test "$cross_compiling" = yes; then :\n  ac_osx_32bit=no', 1),
        ("case `/usr/bin/arch` in", f"case {_ARCHES[arch][1]} in", 2),
        ("gcc_version=`gcc -dumpversion`", "gcc_version=4.2.1", 1),
        # zig cannot link a bundle: extension modules are dylibs (given in the environment instead, the
        # value's `$(CC)` ends up unquoted in config.status)
        ("\t\t\tLDSHARED='$(CC) -bundle -undefined dynamic_lookup'\n\t\t\tLDCXXSHARED='$(CXX) -bundle -undefined dynamic_lookup'\n",
         f"\t\t\tLDSHARED='$(CC) {ldshared}'\n\t\t\tLDCXXSHARED='$(CXX) {ldshared}'\n", 1),
    ]


def _unpack_source(tarball: Path, dest: Path, arch: str, macos_min: str) -> Path:
    with tarfile.open(tarball) as tf:
        tf.extractall(dest, filter="data")
    src = dest / f"Python-{MACOS_PYTHON_SOURCE[1]}"
    configure = src / "configure"
    text = configure.read_text()
    for old, new, count in _patches(arch, macos_min):
        if text.count(old) != count:
            raise VerifierError(f"{tarball.name}: configure has {text.count(old)} of {old.splitlines()[0]!r}, "
                                f"expected {count}")
        text = text.replace(old, new)
    configure.write_text(text)
    return src


def _makefile_vars(makefile: Path, pyconfig: Path) -> dict[str, object]:
    values: dict[str, str] = {}
    for line in makefile.read_text().splitlines():
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=[ \t]*(.*?)[ \t]*$", line)
        if m and m.group(1) not in values:
            values[m.group(1)] = m.group(2)
    missing = [k for k in _MAKEFILE_VARS if k not in values]
    if missing:
        raise VerifierError(f"configure wrote a Makefile without {', '.join(missing)}")
    out: dict[str, object] = {k: values[k] for k in _MAKEFILE_VARS}
    for m in re.finditer(r"^#define (SIZEOF_[A-Z0-9_]+) (\d+)$", pyconfig.read_text(), re.MULTILINE):
        out[m.group(1)] = int(m.group(2))
    return out


def _configure(arch: str, macos_min: str, zig: Zig, src: Path, work: Path, log: Path, config_site: dict[str, str],
               cc: str | None, sandbox: Sandbox | None) -> Path:
    apple_arch, _ = _arch(arch)
    triple = f"{arch}-macos.{macos_min}"
    target = Target(triple, triple, f"macosx_{macos_min.replace('.', '_')}_{apple_arch}", "", arch, "darwin", "",
                    gnu_type=f"{arch}-apple-darwin")
    zig_cache = work / "zig-cache"  # configure's test programs only: removed with the work dir
    tools = zig.write_wrappers(work / "zig-bin", target, cache_dir=zig_cache, prefix_map={src: "/usr/src/python"})
    framework = work / "frameworks" / "CoreFoundation.framework"
    framework.mkdir(parents=True)
    (framework / "CoreFoundation.tbd").write_text(_COREFOUNDATION_TBD)
    for tool in ("cc", "c++"):  # configure wants CC to be one word: a script that adds the stub frameworks
        script = work / "bin" / tool
        script.parent.mkdir(exist_ok=True)
        script.write_text(f"#!/bin/sh\nexec {work / 'zig-bin' / tool} -F{framework.parent} \"$@\"\n")
        script.chmod(0o755)
    (work / "config.site").write_text("".join(f"{k}={v}\n" for k, v in config_site.items()))
    env = {**_zig_env(work, zig_cache), "CC": cc or str(work / "bin" / "cc"), "CXX": str(work / "bin" / "c++"),
           "AR": tools["AR"], "RANLIB": tools["RANLIB"], "CONFIG_SITE": str(work / "config.site"),
           "MACOSX_DEPLOYMENT_TARGET": macos_min, "PKG_CONFIG": "/bin/false",
           "READELF": "/bin/false"}  # configure insists on one in any cross build; configure alone never runs it
    build = work / "build"
    build.mkdir()
    argv = [str(src / "configure"), f"--build={platform.machine()}-pc-linux-gnu", f"--host={arch}-apple-darwin",
            "--prefix=/usr/local", f"--with-build-python={_BUILD_PYTHON}", "--disable-test-modules",
            "--without-ensurepip"]
    r = run(argv, cwd=build, env=env, log=log, sandbox=sandbox, writable=[work], timeout=3600, memory=None,
            processes=None)
    if not r.ok:
        raise VerifierError(f"configure of CPython {MACOS_PYTHON_SOURCE[1]} for {triple} failed (log: {log})")
    return build


def ensure_macos_headers(arch: str, cache: Path, zig: Zig | None = None, *, macos_min: str | None = None,
                         sandbox: Sandbox | None = None, config_site: dict[str, str] | None = None,
                         cc: str | None = None) -> MacHeaders:
    """CPython 3.11's headers and pyconfig.h for `arch` (x86_64, aarch64) on macOS `macos_min` (default: zig's
    default minimum) under `cache`, made (a minute or two) if missing; configure runs in `sandbox` (bubblewrap
    gives it a /dev of its own: a host /dev/null that some root process replaced by a file breaks configure
    in ways that look like its own bugs). `config_site` replaces the answers
    and `cc` the compiler script (both for tests: a different result is cached under the same key)."""
    _arch(arch)
    if not os.path.exists(_BUILD_PYTHON):
        raise ToolMissing(_BUILD_PYTHON, "python3.11-minimal")
    zig = zig or find_zig()
    default_min = default_macos_min(arch, zig)
    target_min = macos_min or default_min
    _version(target_min)
    cache = cache.absolute()
    cache.mkdir(parents=True, exist_ok=True)
    key = macos_headers_key(arch, zig.version, None if target_min == default_min else target_min)
    top = cache / key
    with open(cache / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (top / "stamp.json").is_file():
            log = cache / f"{key}.log"
            log.unlink(missing_ok=True)
            tarball = orig_tarball(MACOS_PYTHON_SOURCE[0], MACOS_PYTHON_TARBALL, cache, log, MACOS_PYTHON_SHA256)
            tmp = cache / f".{key}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                _make(arch, target_min, zig, tarball, tmp, log, answers(target_min) if config_site is None
                      else config_site, cc, sandbox)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            shutil.rmtree(top, ignore_errors=True)
            tmp.rename(top)
    return MacHeaders(top / "include", json.loads((top / "vars.json").read_text()),
                      json.loads((top / "stamp.json").read_text()))


def _make(arch: str, macos_min: str, zig: Zig, tarball: Path, tmp: Path, log: Path, config_site: dict[str, str],
          cc: str | None, sandbox: Sandbox | None) -> None:
    work = tmp / "work"
    work.mkdir(parents=True)
    start = time.monotonic()
    src = _unpack_source(tarball, work, arch, macos_min)
    build = _configure(arch, macos_min, zig, src, work, log, config_site, cc, sandbox)
    seconds = round(time.monotonic() - start, 1)
    shutil.copytree(src / "Include", tmp / "include")
    shutil.copyfile(build / "pyconfig.h", tmp / "include" / "pyconfig.h")
    values = _makefile_vars(build / "Makefile", build / "pyconfig.h")
    leaked = sorted(k for k, v in values.items() if str(work) in str(v))
    if leaked or str(work) in (build / "pyconfig.h").read_text():
        raise VerifierError(f"configure put the build directory into {', '.join(leaked) or 'pyconfig.h'} (log: {log})")
    stamp = {"source": f"debian:{tarball.name}", "source_sha256": MACOS_PYTHON_SHA256, "zig": zig.version,
             "target": f"{arch}-macos.{macos_min}", "host": f"{arch}-apple-darwin", "answers": config_site,
             "ldshared_flags": list(MACOS_LDSHARED_FLAGS), "configure_seconds": seconds,
             "pyconfig_sha256": hashlib.sha256((build / "pyconfig.h").read_bytes()).hexdigest()}
    shutil.rmtree(work)
    (tmp / "vars.json").write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")
    (tmp / "stamp.json").write_text(json.dumps(stamp, indent=1) + "\n")
