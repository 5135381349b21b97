"""Native C libraries built from pinned source with zig for a target, static and reproducibly: the
libraries wheels bundle (libyaml for pyyaml's `_yaml`, libxml2 and libxslt for lxml, ...).

One recipe per library, as data (`nativelibs.toml`): Debian 12's upstream tarball of the library, pinned by
sha256 (`debsource.orig_tarball`), built with the library's own build system (CMake with Ninja, or
configure and make) and the zig wrappers for the target (`Zig.write_wrappers`: `-target`,
`-ffile-prefix-map` of the build root), static only (`-fPIC` objects in `.a` archives; zig's `ar` is
llvm-ar, deterministic by default), with `SOURCE_DATE_EPOCH` the newest member of the tarball, installed
into a prefix (`include/`, `lib/*.a`, `lib/pkgconfig/*.pc` made relocatable with `${pcfiledir}`).

Each library is built **twice**, in build roots of different names and lengths, and the two prefixes are
packed into deterministic tars (sorted members, mtime = SOURCE_DATE_EPOCH, uid/gid 0, modes 644/755) and
compared: the library's own grade (reproducible / repeatable: which members differ / broken: the build
failed). The first tar is the library's *input*: named in a wheel's recipe by its BLAKE3
(`record.Input`), cached as `<cache>/archives/<hex>.tar`, put into the store as a blob with the recipe.

Cache: `<cache>/<name>-<version>-<target>-zig<zig>-<build digest>/` with `stamp.json` (source, sha256,
grade, both builds' digests and seconds) and `build.log`; built under a lock in a temporary directory, then
renamed. The build digest covers the library's table entry, the zig version, the target and its
dependencies' archives, so a changed recipe is a new directory. The pinned source is trusted code: the
library builds run outside the sandbox (no sdist code runs here), under the usual time limit."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import stat
import tarfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casstore import Hasher, hash_file

from ..errors import ToolMissing, VerifierError
from ..exec.command import run
from ..record import Input
from .debsource import apt_env, orig_tarball
from .targets import Target, get_target
from .zig import Zig, find_zig

__all__ = [
    "LIBRARIES", "BuiltLibrary", "Library", "LibraryBuildFailed", "build_digest", "ensure_library", "load_libraries",
    "pack_prefix", "unpack_input",
]

TABLE = Path(__file__).with_name("nativelibs.toml")
DEFAULT_NATIVE_CACHE = Path(".cache/nativelibs")
PREFIX = "/prefix"  # the install prefix every build uses (DESTDIR puts it below the build root)
BUILD_LOGIC = "2"  # bumped when this module builds or packs differently: part of every build digest
SECOND_ROOT = "second-build/with/a/longer/path"  # where the second build runs: another name, another length
_REMOVE = ("lib/*.so", "lib/*.so.*", "lib/*.la", "share/man", "share/doc", "share/gtk-doc", "share/info")


class LibraryBuildFailed(VerifierError):
    def __init__(self, name: str, target: str, why: str, log: Path | None = None) -> None:
        super().__init__(f"native library {name} for {target}: {why}" + (f" (log: {log})" if log else ""))
        self.name, self.target, self.log = name, target, log


@dataclass(frozen=True)
class Library:
    """One library's recipe, as the table says (see nativelibs.toml for the fields)."""

    name: str
    version: str
    debian: str
    orig: str
    sha256: str
    system: str
    options: tuple[str, ...] = ()
    configure: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    requires: tuple[str, ...] = ()
    pc: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return f"debian:{self.orig}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "debian": self.debian, "orig": self.orig,
                "sha256": self.sha256, "system": self.system, "options": list(self.options),
                "configure": list(self.configure), "env": dict(self.env), "requires": list(self.requires),
                "pc": dict(self.pc), "remove": list(self.remove)}


def load_libraries(text: str) -> dict[str, Library]:
    """The table's libraries by name (pure). Unknown fields, systems and dependencies are refused."""
    known = {"version", "debian", "orig", "sha256", "system", "options", "configure", "env", "requires", "pc", "remove"}
    out: dict[str, Library] = {}
    for name, d in tomllib.loads(text).items():
        extra = set(d) - known
        if extra:
            raise VerifierError(f"native library {name!r}: unknown fields {sorted(extra)}")
        if d.get("system") not in ("cmake", "configure"):
            raise VerifierError(f"native library {name!r}: unknown build system {d.get('system')!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", str(d.get("sha256", ""))):
            raise VerifierError(f"native library {name!r}: sha256 {d.get('sha256')!r} is not 64 hex digits")
        out[name] = Library(
            name, str(d["version"]), str(d["debian"]), str(d["orig"]), str(d["sha256"]), str(d["system"]),
            tuple(d.get("options", ())), tuple(d.get("configure", ())), tuple(sorted(d.get("env", {}).items())),
            tuple(d.get("requires", ())), tuple(sorted(d.get("pc", {}).items())), tuple(d.get("remove", ())),
        )
    for lib in out.values():
        missing = [r for r in lib.requires if r not in out]
        if missing:
            raise VerifierError(f"native library {lib.name!r} requires {missing}, which have no recipe")
    return out


LIBRARIES: Mapping[str, Library] = load_libraries(TABLE.read_text())


@dataclass(frozen=True)
class BuiltLibrary:
    library: Library
    target: str
    archive: Path  # the prefix as a deterministic tar
    stamp: dict[str, Any] = field(default_factory=dict)

    @property
    def grade(self) -> str:
        return str(self.stamp.get("grade"))

    @property
    def input(self) -> Input:
        lib = self.library
        return Input(lib.name, lib.version, lib.source, lib.sha256, str(self.stamp["blake3"]), str(self.stamp["build"]))


def build_digest(lib: Library, target: Target, zig_version: str, deps: Sequence[Input]) -> str:
    """What a library build depends on, as one digest (pure): its table entry, the target, the zig
    version, and the archives of the libraries it builds against."""
    h = Hasher()
    h.update(json.dumps({"library": lib.to_json(), "logic": BUILD_LOGIC, "target": target.name, "zig": zig_version,
                         "deps": [d.blake3 for d in deps]}, sort_keys=True).encode())
    return str(h.digest())


def _epoch(tarball: Path) -> int:
    with tarfile.open(tarball) as tf:
        return int(max((m.mtime for m in tf.getmembers()), default=0))


def pack_prefix(prefix: Path, out: Path, epoch: int) -> str:
    """Pack `prefix` into a deterministic tar at `out` (sorted, fixed owner, mtime and modes); its blake3."""
    paths = sorted(p for p in prefix.rglob("*"))
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        for p in paths:
            info = tf.gettarinfo(str(p), arcname=p.relative_to(prefix).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = epoch
            info.pax_headers = {}
            if info.isdir() or info.mode & stat.S_IXUSR:
                info.mode = 0o755
            else:
                info.mode = 0o644
            if info.isreg():
                with open(p, "rb") as f:
                    tf.addfile(info, f)
            else:
                tf.addfile(info)
    return str(hash_file(out).digest())


def unpack_input(archive: Path, blake3: str, dest: Path) -> Path:
    """Unpack an input's tar into `dest` after checking it is the one the recipe names."""
    got = str(hash_file(archive).digest())
    if got != blake3:
        raise VerifierError(f"native input {archive.name!r} has digest {got}, the recipe names {blake3}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tf:
        tf.extractall(dest, filter="data")
    return dest


def _tokens(target: Target, src: Path, deps: Mapping[str, Path]) -> dict[str, str]:
    return {"src": str(src), "host": target.gnu_type, **{k: str(v) for k, v in deps.items()}}


def _fill(text: str, tokens: Mapping[str, str]) -> str:
    return re.sub(r"\{([a-z0-9_-]+)\}", lambda m: tokens.get(m.group(1), m.group(0)), text)


def _steps(lib: Library, target: Target, src: Path, build: Path, dest: Path, tools: Mapping[str, str],
           deps: Mapping[str, Path], jobs: int) -> list[list[str]]:
    """The commands that configure, build and install `lib` (pure)."""
    tokens = _tokens(target, src, deps)
    options = [_fill(o, tokens) for o in lib.options]
    if lib.system == "cmake":
        prefixes = ";".join(str(p) for p in deps.values())
        ninja = shutil.which("ninja")
        if ninja is None:
            raise ToolMissing("ninja", "ninja-build")
        return [
            ["cmake", "-S", str(src), "-B", str(build), "-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}",
             "-DCMAKE_BUILD_TYPE=Release",
             f"-DCMAKE_INSTALL_PREFIX={PREFIX}", "-DCMAKE_INSTALL_LIBDIR=lib", "-DBUILD_SHARED_LIBS=OFF",
             "-DCMAKE_POSITION_INDEPENDENT_CODE=ON", "-DCMAKE_SYSTEM_NAME=Linux",
             f"-DCMAKE_SYSTEM_PROCESSOR={target.arch}", f"-DCMAKE_C_COMPILER={tools['CC']}",
             f"-DCMAKE_CXX_COMPILER={tools['CXX']}", f"-DCMAKE_AR={tools['AR']}", f"-DCMAKE_RANLIB={tools['RANLIB']}",
             f"-DCMAKE_PREFIX_PATH={prefixes}", "-DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF",
             "-DCMAKE_FIND_USE_SYSTEM_ENVIRONMENT_PATH=OFF", *options],
            ["cmake", "--build", str(build), "-j", str(jobs)],
            ["cmake", "--install", str(build)],  # DESTDIR from the environment
        ]
    configure = [_fill(a, tokens) for a in lib.configure] or [
        str(src / "configure"), f"--build={platform.machine()}-pc-linux-gnu", f"--host={target.gnu_type}",
        f"--prefix={PREFIX}", f"--libdir={PREFIX}/lib", "--enable-static", "--disable-shared", "--with-pic",
    ]
    return [[*configure, *options], ["make", f"-j{jobs}"], ["make", "install", f"DESTDIR={dest}"]]


def _relocate(prefix: Path, lib: Library, root: Path) -> None:
    """Drop what a static prefix does not need; make .pc files and config scripts relocatable (and free of
    the build root, which the dependencies' -L flags name: it becomes /build, as in the objects)."""
    for pattern in (*_REMOVE, *lib.remove):
        for p in sorted(prefix.glob(pattern), reverse=True):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    pcdir = prefix / "lib" / "pkgconfig"
    for name, libs in lib.pc:
        pc = pcdir / f"{name}.pc"
        if not pc.exists():
            pcdir.mkdir(parents=True, exist_ok=True)
            pc.write_text(f"prefix={PREFIX}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\n"
                          f"Name: {name}\nDescription: {lib.name} (static, built by casstore's verifier)\n"
                          f"Version: {lib.version}\nLibs: -L${{libdir}} {libs}\nCflags: -I${{includedir}}\n")
    for pc in sorted(pcdir.glob("*.pc")) if pcdir.is_dir() else []:
        text = re.sub(rf"^prefix={re.escape(PREFIX)}$", "prefix=${pcfiledir}/../..", pc.read_text(), flags=re.MULTILINE)
        pc.write_text(text.replace(f"{PREFIX}/", "${prefix}/").replace(str(root), "/build"))
    for script in sorted((prefix / "bin").glob("*-config")) if (prefix / "bin").is_dir() else []:
        # xml2-config, xslt-config: find the prefix from where the script lies
        text = script.read_text()
        text = re.sub(rf"^prefix={re.escape(PREFIX)}$", 'prefix="$(cd "$(dirname "$0")/.." && pwd)"', text, flags=re.MULTILINE)
        script.write_text(text.replace(f"{PREFIX}/", "${prefix}/").replace(str(root), "/build"))
    for empty in sorted((p for p in prefix.rglob("*") if p.is_dir()), reverse=True):
        if not any(empty.iterdir()):
            empty.rmdir()


def _build_one(lib: Library, target: Target, zig: Zig, tarball: Path, root: Path, deps: Mapping[str, Path],
               log: Path, jobs: int, zig_cache: Path, epoch: int) -> Path:
    """One build of `lib` in `root`; the installed prefix (`root/dest/prefix`)."""
    root.mkdir(parents=True)
    with tarfile.open(tarball) as tf:
        tf.extractall(root / "src", filter="data")
    (top,) = list((root / "src").iterdir())
    dep_roots: dict[str, Path] = {}
    for name, archive in deps.items():  # below the build root, so their paths map to /build as well
        dep_roots[name] = root / "deps" / name
        with tarfile.open(archive) as tf:
            tf.extractall(dep_roots[name], filter="data")
    for d in ("home", "tmp", "build"):
        (root / d).mkdir()
    dest = root / "dest"
    tools = zig.write_wrappers(root / "bin", target, cache_dir=zig_cache, prefix_map={root: "/build"})
    tokens = _tokens(target, top, dep_roots)
    env = {
        **apt_env(root / "home"), **tools, "PATH": f"{root / 'bin'}:/usr/bin:/bin", "TMPDIR": str(root / "tmp"),
        "LC_ALL": "C", "TZ": "UTC", "SOURCE_DATE_EPOCH": str(epoch), "CFLAGS": "-O2 -fPIC", "CXXFLAGS": "-O2 -fPIC",
        "PKG_CONFIG_LIBDIR": ":".join(str(p / "lib" / "pkgconfig") for p in dep_roots.values()) or "/nonexistent",
        "PKG_CONFIG_PATH": "", "DESTDIR": str(dest), "ARFLAGS": "cr",
        **{k: _fill(v, tokens) for k, v in lib.env},
    }
    if dep_roots:  # configure scripts find headers and libraries through the usual variables
        env["CPPFLAGS"] = " ".join(f"-I{p / 'include'}" for p in dep_roots.values())
        env["LDFLAGS"] = " ".join(f"-L{p / 'lib'}" for p in dep_roots.values())
    for argv in _steps(lib, target, top, root / "build", dest, tools, dep_roots, jobs):
        r = run(argv, cwd=root / "build", env=env, log=log, timeout=3600, memory=None, processes=None)
        if not r.ok:
            raise LibraryBuildFailed(lib.name, target.name, f"{Path(argv[0]).name} {' '.join(argv[1:2])} failed", log)
    prefix = dest / PREFIX.lstrip("/")
    if not any(prefix.glob("lib/*.a")):
        raise LibraryBuildFailed(lib.name, target.name, "the build installed no static library", log)
    _relocate(prefix, lib, root)
    return prefix


def _members_differing(a: Path, b: Path) -> list[str]:
    def digests(tar: Path) -> dict[str, str]:
        out = {}
        with tarfile.open(tar) as tf:
            for m in tf.getmembers():
                f = tf.extractfile(m) if m.isreg() else None
                h = Hasher()
                h.update(f.read() if f else f"{m.type!r}{m.linkname}{m.mode}".encode())
                out[m.name] = str(h.digest())
        return out
    da, db = digests(a), digests(b)
    return sorted(n for n in set(da) | set(db) if da.get(n) != db.get(n))


def ensure_library(name: str, target: str | Target, cache: Path | None = None, *, zig: Zig | None = None,
                   jobs: int | None = None, libraries: Mapping[str, Library] = LIBRARIES) -> BuiltLibrary:
    """Library `name` built for `target` under `cache` (default `.cache/nativelibs`), built twice and
    graded if missing (its dependencies first). Raises LibraryBuildFailed when it does not build."""
    t = get_target(target)
    if name not in libraries:
        raise VerifierError(f"needs native library {name}; no recipe")
    lib = libraries[name]
    zig = zig or find_zig()
    cache = (cache or DEFAULT_NATIVE_CACHE).absolute()
    deps = {r: ensure_library(r, t, cache, zig=zig, jobs=jobs, libraries=libraries) for r in lib.requires}
    digest = build_digest(lib, t, zig.version, [d.input for d in deps.values()])
    key = f"{lib.name}-{lib.version}-{t.name}-zig{zig.version}-{digest.removeprefix('blake3:')[:12]}"
    top = cache / key
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (top / "stamp.json").is_file():
            _build_and_grade(lib, t, zig, cache, top, digest, {r: d.archive for r, d in deps.items()},
                             jobs or os.cpu_count() or 1)
    stamp = json.loads((top / "stamp.json").read_text())
    archive = cache / "archives" / f"{str(stamp['blake3']).removeprefix('blake3:')}.tar"
    if not archive.is_file():  # the archives directory was cleaned: the build directory keeps a copy
        archive.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(top / "prefix.tar", archive)
    return BuiltLibrary(lib, t.name, archive, stamp)


def _build_and_grade(lib: Library, t: Target, zig: Zig, cache: Path, top: Path, digest: str,
                     deps: Mapping[str, Path], jobs: int) -> None:
    tmp = cache / f".{top.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    log = tmp / "build.log"
    tarball = orig_tarball(lib.debian, lib.orig, cache / "src", log, lib.sha256)
    epoch = _epoch(tarball)
    zig_cache = (cache / "zig-cache").absolute()  # shared by the library builds only (trusted sources)
    builds, tars = [], []
    for n, sub in enumerate(("a", SECOND_ROOT)):
        start = time.monotonic()
        prefix = _build_one(lib, t, zig, tarball, tmp / sub, deps, log, jobs if n == 0 else 1, zig_cache, epoch)
        tar = tmp / f"prefix-{n}.tar"
        b3 = pack_prefix(prefix, tar, epoch)
        builds.append({"root": sub, "jobs": jobs if n == 0 else 1, "blake3": b3,
                       "seconds": round(time.monotonic() - start, 1)})
        tars.append(tar)
        shutil.rmtree(tmp / sub.split("/")[0])
    differing = [] if builds[0]["blake3"] == builds[1]["blake3"] else _members_differing(*tars)
    stamp = {
        "name": lib.name, "version": lib.version, "target": t.name, "zig": zig.version, "source": lib.source,
        "source_sha256": lib.sha256, "source_date_epoch": epoch, "build": digest, "blake3": builds[0]["blake3"],
        "grade": "reproducible" if not differing else "repeatable", "differing": differing, "builds": builds,
        "deps": {r: str(hash_file(p).digest()) for r, p in deps.items()},
    }
    tars[0].rename(tmp / "prefix.tar")
    tars[1].unlink()
    archive = cache / "archives" / f"{str(stamp['blake3']).removeprefix('blake3:')}.tar"
    archive.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp / "prefix.tar", archive)
    (tmp / "stamp.json").write_text(json.dumps(stamp, indent=1, sort_keys=True))
    shutil.rmtree(top, ignore_errors=True)
    tmp.rename(top)
