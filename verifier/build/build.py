"""One rebuild: sdist + recipe + variation -> wheel, in a fresh venv, through the `build` frontend, sandboxed."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from casstore import hash_file

from ..errors import VerifierError
from ..exec.command import DEFAULT_MEMORY, DEFAULT_PROCESSES, DEFAULT_TIMEOUT, RunResult, run
from ..exec.detect import detect_sandbox
from ..exec.sandbox import Sandbox
from ..record import BuildRecord, Pin, Recipe
from ..toolchain.cmake import TOOLCHAIN_FILE, cmake_toolchain_file
from ..toolchain.cross import cross_env, cross_sysconfig, host_vars, write_sysconfigdata
from ..toolchain.elf import fix_musl_needed
from ..toolchain.foreign import ForeignPython, foreign_python
from ..toolchain.meson import CROSS_FILE, meson_cross_file, meson_setup_args
from ..toolchain.muslpython import MUSL_PYTHON_VERSION, MuslPython, ensure_musl_python
from ..toolchain.pythons import HOST_PYTHON, PythonSource, get_python, python_of_tag
from ..toolchain.sysroot import Sysroot, ensure_sysroot, find_qemu
from ..toolchain.targets import TARGETS, Target, get_target, is_native
from ..toolchain.zig import Zig, find_zig
from ..toolchain.zigcache import private_cache, runtime_languages, trusted_cache, warm
from .kind import detect
from .native import Needs, hook_env, native_cause, native_env, native_inputs
from .sdist import build_requires, extract_sdist, sdist_epoch
from .smoke import (
    SKIPPED,
    auditwheel_policy,
    policy_satisfies,
    qemu_smoke_test,
    smoke_passed,
    smoke_test,
    sysroot_smoke_test,
    wine_smoke_test,
)
from .wheel import extension_modules, parse_wheel_name, retag, top_level_modules
from .wheelhouse import default_wheelhouse, fetch, install, lock

__all__ = [
    "PURE_NOTE", "REBUILD", "VARIATIONS", "BuildResult", "BuildSetup", "Variation", "build_once", "make_recipe", "python_tag",
]


@dataclass(frozen=True)
class Variation:
    """What differs between two builds of one recipe (reprotest-style). The recipe itself never varies."""

    name: str
    subdir: str  # build path component: differs in name and length between variations
    locale: str = "C.UTF-8"
    tz: str = "UTC"
    cpus: int | None = None  # None: all CPUs
    cold_cache: bool = False  # a fresh, empty zig cache for this build
    env: tuple[tuple[str, str], ...] = ()


REBUILD = Variation("rebuild", "rebuild")  # a single rebuild: warm zig cache, all CPUs


@dataclass(frozen=True)
class BuildSetup:
    """What every build of a rebuild or a verification shares (a `Variation` is what differs): the sandbox
    the sdist's code runs in and the limits it runs under (both recorded with each build), and the local
    directories builds take their inputs from and share. None means the default: the best sandbox here
    (`detect_sandbox()`), `.cache/wheelhouse` (or $VERIFIER_WHEELHOUSE), `.cache/zig`, `.cache/sysroots`."""

    sandbox: Sandbox | None = None
    timeout: float = DEFAULT_TIMEOUT  # seconds a command of the sdist's code may run before it is killed
    memory: int | None = DEFAULT_MEMORY  # bytes of address space per process (None: unlimited)
    processes: int | None = DEFAULT_PROCESSES  # processes and threads at once (None: unlimited)
    wheelhouse: Path | None = None  # the build dependencies recipes pin
    zig_cache: Path | None = None  # where the trusted warm zig caches live (builds get private copies)
    sysroots: Path | None = None  # Debian sysroots and the musl CPython built here
    natives: Path | None = None  # native libraries built here, and their archives (default .cache/nativelibs)
    native_projects: Mapping[str, Needs] | None = None  # which project needs which library (default: the table)

    def run(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path, writable: Sequence[Path],
            umask: int = 0o022, cpus: int | None = None) -> RunResult:
        """Run the sdist's own code: in this setup's sandbox, under its limits. (Callers decide the sandbox
        once, before their first command, so that every command of a build runs in the same one.)"""
        sandbox = self.sandbox if self.sandbox is not None else detect_sandbox()
        return run(argv, cwd=cwd, env=env, log=log, sandbox=sandbox, writable=writable, timeout=self.timeout,
                   memory=self.memory, processes=self.processes, umask=umask, cpus=cpus)

VARIATIONS: tuple[Variation, ...] = (
    Variation("first", "a", cold_cache=True, env=(("USER", "builder"),)),
    Variation(
        "second", "second-build/with/a/longer/path", locale="fr_FR.UTF-8", tz="Pacific/Kiritimati", cpus=1,
        env=(("USER", "someone-else"), ("VERIFIER_VARIATION", "2"), ("COLUMNS", "51")),
    ),
)


@dataclass
class BuildResult:
    variation: str
    ok: bool
    infra_failure: bool = False  # the failure is ours (timeout, missing tool), not the package's
    failure: str | None = None
    wheel: Path | None = None
    sha256: str | None = None
    blake3: str | None = None
    ext_modules: list[str] = field(default_factory=list)
    auditwheel_policy: str | None = None
    smoke: str | None = None
    log: Path | None = None
    root: Path | None = None  # the build root, for finding embedded paths
    seconds: float = 0.0
    sandbox: str = "none"
    timeout: float | None = None  # the build command's wall-clock limit, in seconds
    limits: str | None = None  # every limit the build command ran under, as `describe_limits` says

    def to_record(self, log_blake3: str | None = None) -> BuildRecord:
        return BuildRecord(
            self.variation, self.ok, self.infra_failure, self.failure,
            self.wheel.name if self.wheel else None, self.sha256, self.blake3, list(self.ext_modules),
            self.auditwheel_policy, self.smoke, log_blake3, str(self.log) if self.log else None,
            round(self.seconds, 3), self.sandbox, self.timeout, self.limits,
        )


# Installed as sitecustomize.py in the build venv when the recipe asks for deterministic temp names:
# backends that build in tempfile.mkdtemp() dirs (e.g. frozenlist's) otherwise embed a random path.
_SITECUSTOMIZE = """
import tempfile


class _Names:
    def __init__(self):
        self.n = 0

    def __iter__(self):
        return self

    def __next__(self):
        self.n += 1
        return "det%05d" % self.n


tempfile._name_sequence = _Names()
"""


DEFAULT_SYSROOTS = Path(".cache/sysroots")
DEFAULT_ZIG_CACHE = Path(".cache/zig")


def _sysroot_for(target: Target, sysroots: Path | None, py: PythonSource | None = None) -> Sysroot | None:
    """The Debian sysroot a build for `target` and CPython `py` needs: the target arch's headers and Python
    (None: the host's own, for the host's architecture and Python version)."""
    py = py or get_python(HOST_PYTHON)
    if target.os != "linux" or (target.arch == platform.machine() and py.is_host):
        return None  # macOS and Windows: `foreign_python`
    return ensure_sysroot(target, (sysroots or DEFAULT_SYSROOTS).absolute(), py)


def _native(target: Target, py: PythonSource) -> bool:
    """The host's own interpreter builds for `target` and runs the result: no cross setup at all."""
    return is_native(target) and py.is_host


def _build_python(py: PythonSource, sysroots: Path | None) -> Sysroot | None:
    """Where the interpreter that runs a build for `py` comes from: None for the host's own version, else
    the Debian sysroot of that version for the host's architecture (run through its own loader)."""
    if py.is_host:
        return None
    host = next(t for t in TARGETS.values() if is_native(t))
    return ensure_sysroot(host, (sysroots or DEFAULT_SYSROOTS).absolute(), py)


def _foreign(target: Target, py: PythonSource, sysroots: Path | None, zig: Zig) -> ForeignPython | None:
    """Headers, flags and sysconfig values of the target's CPython for a macOS or Windows target (None: Linux)."""
    if target.os == "linux":
        return None
    return foreign_python(target, py.version, (sysroots or DEFAULT_SYSROOTS).absolute(), zig)


def _headers_source(target: Target, sysroot: Sysroot | None, py: PythonSource | None = None,
                    foreign: ForeignPython | None = None) -> str:
    py = py or get_python(HOST_PYTHON)
    if foreign is not None:
        return foreign.headers_source
    if _native(target, py):
        return ""
    if sysroot is None:
        return f"host:cpython-{platform.python_version()}"
    return f"debian:{sysroot.deb(f'libpython{py.version}-dev')}"


def python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def make_recipe(
    sdist: Path,
    target: str | Target,
    *,
    workdir: Path,
    setup: BuildSetup = BuildSetup(),
    zig: Zig | None = None,
    cppflags: str = "",
    ldflags: str = "",
    online: bool = True,
    python: str | PythonSource | None = None,
    pure: bool = False,
) -> Recipe:
    """Pin everything a rebuild of `sdist` for `target` and CPython `python` (default: the host's version)
    depends on; fetch missing build deps (into `setup.wheelhouse`) if `online`. The backend's own
    requirements hook runs the sdist's code: in `setup`'s sandbox under the same limits as a build.
    `pure`: the sdist compiles nothing; its wheel is built without any cross setup (no target headers)."""
    t = get_target(target)
    py = get_python(python or HOST_PYTHON)
    zig = zig or find_zig()
    foreign = None if pure else _foreign(t, py, setup.sysroots, zig)  # first: it says when the target has no such CPython
    base = _build_python(py, setup.sysroots)
    wheelhouse = setup.wheelhouse or default_wheelhouse()
    digests = hash_file(sdist)
    src = extract_sdist(sdist, workdir / "recipe-src")
    requires = build_requires(src)
    log = workdir / "deps.log"
    launcher = base.write_launcher(workdir / f"python{py.version}") if base else None
    pins = _lock(requires, wheelhouse, log, online, launcher)
    confine = replace(setup, sandbox=setup.sandbox if setup.sandbox is not None else detect_sandbox())
    native = native_inputs(sdist.name, t, setup.natives, setup.native_projects)
    extra = _dynamic_requires(src, pins, wheelhouse, workdir / "recipe-venv", log, confine, base, hook_env(sdist.name))
    if extra:  # e.g. old setuptools asks for `wheel`; pin those too
        pins = _lock([*requires, *extra], wheelhouse, log, online, launcher)
    shutil.rmtree(workdir / "recipe-src")
    shutil.rmtree(workdir / "recipe-venv", ignore_errors=True)
    if launcher:
        launcher.unlink()
    ldflags = " ".join(f for f in (ldflags, native.pop("ldflags", "")) if f)  # the table's link flags after ours
    return Recipe(
        sdist_filename=sdist.name, sdist_sha256=digests.sha256(), sdist_blake3=str(digests.digest()),
        target=t.name,
        python=f"cpython-{base.python_version}" if base else
        f"{platform.python_implementation().lower()}-{platform.python_version()}",
        python_tag=py.tag, zig_version=zig.version, build_deps=tuple(pins), source_date_epoch=sdist_epoch(sdist),
        cppflags=cppflags, ldflags=ldflags,
        target_headers="" if pure else _headers_source(t, _sysroot_for(t, setup.sysroots, py), py, foreign),
        build_python=f"debian:{base.deb(f'python{py.version}-minimal')}" if base else "",
        **native, pure=pure,
    )


def _lock(requires: Sequence[str], wheelhouse: Path, log: Path, online: bool, python: Path | None = None) -> list[Pin]:
    try:
        return lock(requires, wheelhouse, log=log, python=python)
    except VerifierError:
        if not online:
            raise
        fetch(requires, wheelhouse, log=log, python=python)
        return lock(requires, wheelhouse, log=log, python=python)


def _venv(venv: Path, pins: Sequence[Pin], wheelhouse: Path, log: Path, base: Sysroot | None = None) -> Path:
    """A fresh venv with exactly the pinned files installed; returns its python. `base`: the sysroot whose
    interpreter it is made from (its bin/python* become launchers through the sysroot's own loader)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(venv.parent), "LC_ALL": "C.UTF-8"}
    venv.parent.mkdir(parents=True, exist_ok=True)
    creator = base.native_argv() if base else [sys.executable]
    if not run([*creator, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent, env=env, log=log).ok:
        raise VerifierError(f"cannot create a venv at {str(venv)!r} (log: {log})")
    if base is not None:
        for exe in sorted((venv / "bin").glob("python*")):
            exe.unlink()  # a symlink to the sysroot's interpreter, which this host's libc cannot run directly
            base.write_launcher(exe, as_itself=True)
    python = venv / "bin" / "python"
    install(pins, wheelhouse, python, log=log)
    return python


_REQUIRES_PROBE = (
    "import json, sys; from build import ProjectBuilder; "
    "print('REQUIRES=' + json.dumps(sorted(ProjectBuilder(sys.argv[1]).get_requires_for_build('wheel'))))"
)


def _dynamic_requires(src: Path, pins: Sequence[Pin], wheelhouse: Path, venv: Path, log: Path,
                      confine: BuildSetup, base: Sysroot | None = None, build_env: dict[str, str] | None = None,
                      ) -> list[str]:
    """What the backend's get_requires_for_build_wheel hook adds, asked in the sandbox without network, with
    `build_env` (`native.hook_env`) added."""
    python = _venv(venv, pins, wheelhouse, log, base)
    env = dict(build_env or {}) | {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(venv), "LC_ALL": "C.UTF-8", "TMPDIR": str(venv)}
    r = confine.run([str(python), "-c", _REQUIRES_PROBE, str(src)], cwd=src, env=env, log=log, writable=[src, venv])
    line = next((ln for ln in r.output.splitlines() if ln.startswith("REQUIRES=")), None)
    if not r.ok or line is None:
        return []  # the build itself will fail and say why, in its own log
    have = {p.name.lower().replace("_", "-") for p in pins}
    reqs: list[str] = json.loads(line[len("REQUIRES="):])
    return [q for q in reqs if re.split(r"[\s<>=!~;\[(]", q, maxsplit=1)[0].lower().replace("_", "-") not in have]


def _fail(res: BuildResult, msg: str, start: float, infra: bool = False) -> BuildResult:
    res.ok, res.failure, res.infra_failure = False, msg, infra
    res.seconds = time.monotonic() - start
    return res


def build_once(
    sdist: Path,
    recipe: Recipe,
    variation: Variation,
    *,
    workdir: Path,
    setup: BuildSetup = BuildSetup(),
    zig: Zig | None = None,
    smoke: bool = True,
) -> BuildResult:
    """Build `sdist` by `recipe` under `variation` in `workdir/<variation.subdir>`; never raises for a
    failing build (the result says why), raises VerifierError for bad inputs. The build runs in `setup`'s
    sandbox, killed after `setup.timeout` seconds, with at most `setup.processes` processes and
    `setup.memory` bytes of address space per process."""
    start = time.monotonic()
    target = get_target(recipe.target)
    wheelhouse = setup.wheelhouse or default_wheelhouse()
    sysroots = setup.sysroots
    zig = zig or find_zig(recipe.zig_version)
    sandbox = setup.sandbox if setup.sandbox is not None else detect_sandbox()
    setup = replace(setup, sandbox=sandbox)
    sha = hash_file(sdist).sha256()
    if sha != recipe.sdist_sha256:
        raise VerifierError(f"sdist {str(sdist)!r} has sha256 {sha}, the recipe pins {recipe.sdist_sha256}")
    root = (workdir / variation.subdir).absolute()
    if root.exists():
        shutil.rmtree(root)
    dirs = {k: root / k for k in ("home", "tmp", "out", "bin", "logs")}
    for d in dirs.values():
        d.mkdir(parents=True)
    log = dirs["logs"] / "build.log"
    res = BuildResult(variation.name, ok=False, log=log, root=root, sandbox=sandbox.name, timeout=setup.timeout)
    if (why := native_cause(recipe, setup.native_projects)) is not None:
        return _fail(res, why, start, infra=True)
    try:
        src = extract_sdist(sdist, root / "src")
    except VerifierError as e:
        return _fail(res, str(e), start)

    venv = root / "venv"
    py = python_of_tag(recipe.python_tag)
    try:
        python = _venv(venv, recipe.build_deps, wheelhouse, log, _build_python(py, sysroots))
    except VerifierError as e:
        return _fail(res, str(e), start, infra=True)
    site = venv / "lib" / f"python{py.version}" / "site-packages"
    if recipe.deterministic_tempnames:
        (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    del python
    try:
        sysroot = None if recipe.pure else _sysroot_for(target, sysroots, py)
        foreign = None if recipe.pure else _foreign(target, py, sysroots, zig)
    except VerifierError as e:
        return _fail(res, str(e), start, infra=True)
    cross: dict[str, str] = {}
    if not recipe.pure and not _native(target, py):  # after the venv is filled: nothing installs into it under these variables
        include = str(foreign.include if foreign else sysroot.include if sysroot else sysconfig.get_config_var("INCLUDEPY"))
        target_vars = sysroot.build_time_vars() if sysroot else None
        variables = cross_sysconfig(host_vars(), target, py.nodot, include, target_vars)
        variables.update(foreign.variables if foreign else {})
        write_sysconfigdata(site, target, variables)
        cross = cross_env(target)

    # zig's runtime libraries: warmed by trusted code, never by the build (toolchain/zigcache.py)
    kind = detect(src)
    cache, runtimes = root / "zig-cache", runtime_languages(kind.languages)
    try:
        if recipe.pure:  # nothing is compiled or linked: an empty cache, whatever the variation
            cache.mkdir()
        elif variation.cold_cache:
            warm(zig, target, cache, runtimes, log)
        else:
            trusted = trusted_cache(zig, target, setup.zig_cache or DEFAULT_ZIG_CACHE, runtimes, log)
            private_cache(trusted, cache)
    except VerifierError as e:
        return _fail(res, str(e), start, infra=True)
    tools = zig.write_wrappers(dirs["bin"], target, cache_dir=cache, local_cache_dir=root / "zig-local",
                               prefix_map={root: "/build"}, compile_flags=foreign.compile_flags if foreign else (),
                               shared_flags=foreign.link_flags(dirs["tmp"]) if foreign else ("-shared",))
    jobs = str(variation.cpus or os.cpu_count() or 1)
    env = {
        "PATH": f"{dirs['bin']}:{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(dirs["home"]),
        "TMPDIR": str(dirs["tmp"]),
        "LANG": variation.locale,
        "LC_ALL": variation.locale,
        "TZ": variation.tz,
        "SOURCE_DATE_EPOCH": str(recipe.source_date_epoch),
        "PYTHONHASHSEED": recipe.pythonhashseed,
        "PYTHONDONTWRITEBYTECODE": "1",
        "CPPFLAGS": recipe.cppflags,  # not CFLAGS: setuptools would drop sysconfig's -O flags
        "LDFLAGS": recipe.ldflags,
        "MAKEFLAGS": f"-j{jobs}",
        "CMAKE_BUILD_PARALLEL_LEVEL": jobs,
        "MAX_JOBS": jobs,
        **tools,
        **cross,
        **dict(variation.env),
    }
    try:
        env.update(native_env(recipe, root, setup.natives))
    except VerifierError as e:
        return _fail(res, str(e), start, infra=True)
    settings = [*recipe.config_settings, *_backend_setup(kind.backend, target, tools, venv, dirs["bin"], env)]
    argv = [str(venv / "bin" / "python"), "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dirs["out"]),
            *(f"-C{c}" for c in settings), str(src)]
    r = setup.run(argv, cwd=src, env=env, log=log, writable=[root], umask=int(recipe.umask, 8), cpus=variation.cpus)
    res.limits = r.limits
    shutil.rmtree(cache, ignore_errors=True)  # the build's own copy: nothing reads it again
    if r.timed_out:
        return _fail(res, f"build timed out after {setup.timeout:g} s{_stopped(r)}", start, infra=True)
    if not r.ok:
        return _fail(res, f"build failed with exit code {r.returncode}{_stopped(r)}", start)
    return _check_wheel(res, dirs["out"], recipe, target, root, sandbox, log, smoke, start, sysroot, sysroots, foreign)


def _backend_setup(backend: str, target: Target, tools: dict[str, str], venv: Path, bin_dir: Path,
                   env: dict[str, str]) -> list[str]:
    """What a meson-python or scikit-build-core build needs to compile for `target` with zig: a meson cross file
    (handed over as a config setting) or a CMake toolchain file (named in `env`), written into `bin_dir`; both
    are derived from the target and the build's own paths, so they are not in the recipe. Returns the config
    settings to add; other backends get none, and `env` unchanged."""
    libdirs = [d for d in env.get("PKG_CONFIG_LIBDIR", "").split(":") if d]
    if backend == "meson-python":
        cython = venv / "bin" / "cython"
        cross = bin_dir / CROSS_FILE
        cross.write_text(meson_cross_file(target, tools, python=str(venv / "bin" / "python"),
                                          cython=str(cython) if cython.exists() else None,
                                          pkg_config=shutil.which("pkg-config", path="/usr/bin:/bin"),
                                          pkg_config_libdir=libdirs))
        return meson_setup_args(str(cross))
    if backend == "scikit-build-core":
        toolchain = bin_dir / TOOLCHAIN_FILE
        toolchain.write_text(cmake_toolchain_file(target, tools, roots=[str(Path(d).parent.parent) for d in libdirs]))
        env["CMAKE_TOOLCHAIN_FILE"] = str(toolchain)
    return []


def _stopped(r: RunResult) -> str:
    """What the sandbox's limits did to a failed build, for its failure reason."""
    notes = [f"it hit the sandbox's process limit: {r.limits.split('; ')[-1]}"] if r.process_limit_hit else []
    notes += [f"{r.leftovers} process(es) it left running were killed"] if r.leftovers else []
    return "".join(f"; {n}" for n in notes)


def _musl_python_for(target: Target, py: PythonSource, sysroots: Path | None) -> MuslPython | None:
    """The musl CPython that imports a musl result (built once, then cached: toolchain/muslpython.py); None for
    glibc targets and for Python versions no musl CPython is built for."""
    if target.libc != "musl" or py.version != MUSL_PYTHON_VERSION:
        return None
    return ensure_musl_python(target.arch, (sysroots or DEFAULT_SYSROOTS).absolute())


def _smoke(wheel: Path, modules: Sequence[str], target: Target, workdir: Path, sandbox: Sandbox, log: Path,
           sysroot: Sysroot | None, py: PythonSource, musl: MuslPython | None = None) -> str:
    """Import the modules on the target: the host venv when native, else the target's Debian CPython (under
    qemu for another architecture, through its sysroot's own loader for the host's); musl results with the
    musl CPython built here (its own loader on the host's architecture, else under qemu)."""
    if _native(target, py):
        return smoke_test(wheel, modules, workdir, sandbox=sandbox, log=log)
    if target.libc == "musl":
        if musl is None:
            return SKIPPED + f"no musl CPython {py.version} to import with (only {MUSL_PYTHON_VERSION} is built here)"
        try:
            argv = musl.host_argv()
        except VerifierError as e:
            return SKIPPED + str(e)
        label = f"musl CPython {MUSL_PYTHON_VERSION}" + ("" if argv[0] == str(musl.loader) else f" under {Path(argv[0]).name}")
        return sysroot_smoke_test(wheel, modules, workdir, python=argv, label=label, sandbox=sandbox, log=log)
    if sysroot is None:
        return SKIPPED + f"no {target.libc} CPython for {target.arch} in Debian to import with"
    if target.arch == platform.machine():
        return sysroot_smoke_test(wheel, modules, workdir, python=sysroot.native_argv(), label=sysroot.loader.name,
                                  sandbox=sandbox, log=log)
    try:
        qemu = find_qemu(target)
    except VerifierError as e:
        return SKIPPED + str(e)
    return qemu_smoke_test(wheel, modules, workdir, qemu=qemu, root=sysroot.root, python=sysroot.python,
                           sandbox=sandbox, log=log)


def _check_wheel(
    res: BuildResult, out: Path, recipe: Recipe, target: Target, root: Path, sandbox: Sandbox, log: Path,
    smoke: bool, start: float, sysroot: Sysroot | None = None, sysroots: Path | None = None,
    foreign: ForeignPython | None = None,
) -> BuildResult:
    wheels: Sequence[Path] = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        return _fail(res, f"expected one wheel, the build made {len(wheels)}", start)
    wheel = wheels[0]
    wn = parse_wheel_name(wheel.name)
    if recipe.pure:
        return _check_pure(res, wheel, recipe, root, sandbox, log, smoke, start, sysroots)
    if wn.is_pure:
        return _fail(res, f"the build fell back to a pure wheel {wheel.name!r}", start)
    python_ok = wn.python == recipe.python_tag or (wn.abi == "abi3" and wn.python.startswith("cp"))
    if not python_ok or wn.platform not in ("linux_" + target.arch, target.platform_tag):
        return _fail(res, f"wheel {wheel.name!r} has unexpected tags for {target.name}", start)
    res.ext_modules = extension_modules(wheel, target.ext_suffix(recipe.python_tag[2:]))
    if not res.ext_modules:
        return _fail(res, f"wheel {wheel.name!r} contains no extension module", start)
    fixed = fix_musl_needed(wheel, target.musl_libc, log=log) if target.libc == "musl" else {}
    wheel = retag(wheel, target.platform_tag, fixed)
    res.wheel = wheel
    digests = hash_file(wheel)
    res.sha256, res.blake3 = digests.sha256(), str(digests.digest())
    if target.os == "linux":  # auditwheel knows ELF only; macOS and Windows get the structural comparison
        res.auditwheel_policy = auditwheel_policy(wheel, log=log)
        if not policy_satisfies(res.auditwheel_policy, target.auditwheel_policy):
            return _fail(res, f"auditwheel says {res.auditwheel_policy}, not within {target.auditwheel_policy}", start)
    if smoke and foreign is not None:
        res.smoke = _foreign_smoke(wheel, res.ext_modules, target, root / "smoke", sandbox, log, foreign)
        if not smoke_passed(res.smoke):
            return _fail(res, f"smoke test: {res.smoke}", start)
    elif smoke:
        py = python_of_tag(recipe.python_tag)
        try:
            musl = _musl_python_for(target, py, sysroots)
        except VerifierError as e:
            return _fail(res, str(e), start, infra=True)
        res.smoke = _smoke(wheel, res.ext_modules, target, root / "smoke", sandbox, log, sysroot, py, musl)
        if not smoke_passed(res.smoke):
            return _fail(res, f"smoke test: {res.smoke}", start)
    res.ok = True
    res.seconds = time.monotonic() - start
    return res


def _foreign_smoke(wheel: Path, modules: Sequence[str], target: Target, workdir: Path, sandbox: Sandbox, log: Path,
                   foreign: ForeignPython) -> str:
    """Windows x86_64: import under Wine with python.org's embeddable CPython; macOS and Windows arm64 have no
    runtime here (skipped, with the reason: their only check is the structural comparison)."""
    if target.os == "windows" and target.arch == "x86_64" and foreign.windows is not None:
        try:
            return wine_smoke_test(wheel, modules, workdir, python=foreign.windows, sandbox=sandbox, log=log)
        except VerifierError as e:
            return SKIPPED + str(e)
    return SKIPPED + f"no runtime for {target.name} on this host: checked structurally only"


PURE_NOTE = "pure wheel: target-independent, built without cross setup; no target-specific check (tags, auditwheel, import on the target) applies"


def _check_pure(res: BuildResult, wheel: Path, recipe: Recipe, root: Path, sandbox: Sandbox, log: Path,
                smoke: bool, start: float, sysroots: Path | None) -> BuildResult:
    """The wheel of a recipe that compiles nothing: it must be pure; its top-level modules must import
    with the build's CPython (missing runtime dependencies are skipped, as for extension modules)."""
    if not parse_wheel_name(wheel.name).is_pure:
        return _fail(res, f"the sdist has no C, C++ or Cython sources but the build made {wheel.name!r}: the "
                          "verifier took it for pure and built it without cross setup", start, infra=True)
    res.wheel = wheel
    digests = hash_file(wheel)
    res.sha256, res.blake3 = digests.sha256(), str(digests.digest())
    if smoke:
        py = python_of_tag(recipe.python_tag)
        modules = top_level_modules(wheel)
        try:
            base = _build_python(py, sysroots)
        except VerifierError as e:
            return _fail(res, str(e), start, infra=True)
        if base is None:
            res.smoke = smoke_test(wheel, modules, root / "smoke", sandbox=sandbox, log=log)
        else:
            res.smoke = sysroot_smoke_test(wheel, modules, root / "smoke", python=base.native_argv(),
                                           label=f"CPython {py.version}", sandbox=sandbox, log=log)
        if not smoke_passed(res.smoke):
            return _fail(res, f"smoke test: {res.smoke}", start)
    res.ok = True
    res.seconds = time.monotonic() - start
    return res
