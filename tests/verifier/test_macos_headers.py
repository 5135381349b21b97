"""CPython 3.11 headers for macOS from a cross configure with zig (verifier/toolchain/macos.py): the pyconfig.h
is the target's, a tiny extension module built against it links the way CPython loads it, and a failed
configure leaves nothing behind. The headers are made once into .cache/sysroots (a minute or two per arch)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from verifier import Sandbox, VerifierError
from verifier.exec.command import RunResult, run
from verifier.toolchain.debsource import orig_tarball
from verifier.toolchain.macho import read_macho
from verifier.toolchain.macos import (
    MACOS_CONFIG_SITE,
    MACOS_LDSHARED_FLAGS,
    MACOS_PYTHON_SHA256,
    MACOS_PYTHON_SOURCE,
    MacHeaders,
    answers,
    darwin_release,
    default_macos_min,
    ensure_macos_headers,
    macos_headers_key,
)
from verifier.toolchain.zig import Zig, find_zig

from .conftest import CACHE

SYSROOTS = CACHE / "sysroots"
TARBALL = "python3.11_3.11.2.orig.tar.gz"
ARCHES = ("aarch64", "x86_64")

TINY = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef tiny = {PyModuleDef_HEAD_INIT, "tiny", NULL, -1, methods};

PyMODINIT_FUNC PyInit_tiny(void) { return PyModule_Create(&tiny); }
"""


def _defines(pyconfig: Path) -> dict[str, str]:
    return dict(re.findall(r"^#define (\w+) ?(.*)$", pyconfig.read_text(), re.MULTILINE))


def _seeded(cache: Path, log: Path) -> Path:
    """A fresh cache directory that already holds the pinned tarball (fetched once into .cache/sysroots)."""
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(orig_tarball(MACOS_PYTHON_SOURCE[0], TARBALL, SYSROOTS, log, MACOS_PYTHON_SHA256), cache / TARBALL)
    return cache


@pytest.fixture(scope="module")
def zig() -> Zig:
    return find_zig()


@pytest.fixture(scope="module", params=ARCHES)
def headers(request: pytest.FixtureRequest, sandbox: Sandbox, zig: Zig) -> MacHeaders:
    return ensure_macos_headers(request.param, SYSROOTS, zig, sandbox=sandbox)


# --- pure -------------------------------------------------------------------------------------------------


def test_darwin_release_of_macos_versions() -> None:
    assert [darwin_release(v) for v in ("10.13", "10.15", "11.0", "14.2", "15.0", "26.0")] == [
        "17.0.0", "19.0.0", "20.0.0", "23.0.0", "24.0.0", "25.0.0"]


def test_functions_newer_than_the_deployment_target_are_answered_no() -> None:
    assert answers("15.0") == {**MACOS_CONFIG_SITE, "ac_cv_func_dup3": "no", "ac_cv_func_pipe2": "no"}
    assert answers("27.0") == MACOS_CONFIG_SITE


def test_the_newer_functions_are_annotated_so_in_zigs_headers(zig: Zig) -> None:
    text = (zig.install_dir / "lib" / "libc" / "include" / "any-darwin-any" / "sys" / "unistd.h").read_text()
    for func in ("dup3", "pipe2"):
        assert re.search(r"__API_AVAILABLE\(macos\(27\.0\)[^\n]*\)\s*\n\s*\w+\s+" + func + r"\(", text), func


def test_cache_key_names_source_arch_and_zig() -> None:
    assert macos_headers_key("aarch64", "0.17.1") == "macos-cpython-3.11.2-aarch64-zig0.17.1"
    assert macos_headers_key("x86_64", "0.17.1", "11.0") == "macos-cpython-3.11.2-x86_64.11.0-zig0.17.1"


def test_unknown_arch_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VerifierError, match="'riscv64'"):
        ensure_macos_headers("riscv64", tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- zig's default minimum macOS --------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHES)
def test_zig_default_minimum_macos(arch: str, zig: Zig) -> None:
    """Measured from what zig 0.17.1 writes; also what its lib/std/Target.zig says (.macos min 15.0.0)."""
    assert default_macos_min(arch, zig) == "15.0"


# --- the generated pyconfig.h and Makefile values ---------------------------------------------------------


@pytest.mark.slow
def test_pyconfig_is_for_macos(headers: MacHeaders) -> None:
    d = _defines(headers.pyconfig)
    assert (headers.include / "Python.h").is_file()
    assert d["SIZEOF_VOID_P"] == "8" and d["SIZEOF_LONG"] == "8" and d["SIZEOF_WCHAR_T"] == "4"
    assert "HAVE_DLOPEN" in d and "WITH_DYLD" in d
    assert {"HAVE_CHFLAGS", "HAVE_LCHFLAGS", "HAVE_KQUEUE", "HAVE_DYLD_SHARED_CACHE_CONTAINS_PATH"} <= d.keys()
    assert not {"HAVE_EPOLL", "HAVE_SYS_EPOLL_H", "HAVE_LINUX_RANDOM_H", "HAVE_SYS_SENDFILE_H"} & d.keys()
    assert "WORDS_BIGENDIAN" not in d  # only under __BIG_ENDIAN__, which neither target defines
    assert "_XOPEN_SOURCE" not in d  # Darwin 20+ (configure needs the release to know)
    # link tests after configure adds -framework CoreFoundation to LIBS (the stub framework makes them work)
    assert {"HAVE_STD_ATOMIC", "HAVE_BUILTIN_ATOMIC", "HAVE_SHM_OPEN", "HAVE_DIRENT_D_TYPE"} <= d.keys()
    # in zig's SDK 27.0 stubs, but newer than the 15.0 deployment target
    assert not {"HAVE_PIPE2", "HAVE_DUP3"} & d.keys()
    assert "HAVE_WORKING_TZSET" in d and "HAVE_ALIGNED_REQUIRED" not in d  # answers, not cross guesses


@pytest.mark.slow
def test_recorded_sysconfig_values(headers: MacHeaders, zig: Zig) -> None:
    v = headers.vars
    assert v["EXT_SUFFIX"] == ".cpython-311-darwin.so" and v["SOABI"] == "cpython-311-darwin"
    assert v["MACHDEP"] == "darwin" and v["SHLIB_SUFFIX"] == ".so" and v["CCSHARED"] == ""
    assert v["LDSHARED"] == "$(CC) " + " ".join(MACOS_LDSHARED_FLAGS) + " $(PY_LDFLAGS)"
    assert v["MACOSX_DEPLOYMENT_TARGET"] == default_macos_min(str(headers.stamp["target"]).split("-")[0], zig)
    assert v["SIZEOF_VOID_P"] == 8 and v["SIZEOF_SIZE_T"] == 8
    assert headers.stamp["source_sha256"] == MACOS_PYTHON_SHA256 and headers.stamp["zig"] == zig.version
    assert headers.stamp["answers"] == answers(str(v["MACOSX_DEPLOYMENT_TARGET"]))


@pytest.mark.slow
def test_pyconfig_is_deterministic(tmp_path: Path, sandbox: Sandbox, zig: Zig) -> None:
    first = ensure_macos_headers("aarch64", SYSROOTS, zig, sandbox=sandbox)
    again = ensure_macos_headers("aarch64", _seeded(tmp_path / "elsewhere", tmp_path / "log"), zig, sandbox=sandbox)
    assert again.include != first.include
    assert again.pyconfig.read_bytes() == first.pyconfig.read_bytes()
    assert again.vars == first.vars


# --- a tiny extension module linked the way the build will link it ----------------------------------------


def _zig(zig: Zig, argv: list[str], cwd: Path, cache: Path) -> RunResult:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "ZIG_GLOBAL_CACHE_DIR": str(cache),
           "ZIG_LOCAL_CACHE_DIR": str(cache)}
    return run([str(zig.exe), "cc", *argv], cwd=cwd, env=env, log=cwd / "zig.log", timeout=900)


@pytest.fixture(scope="module")
def link_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zig-cache")


@pytest.mark.slow
def test_tiny_extension_module(headers: MacHeaders, zig: Zig, tmp_path: Path, link_cache: Path) -> None:
    arch = str(headers.stamp["target"]).split("-")[0]
    name = "tiny" + str(headers.vars["EXT_SUFFIX"])
    src = tmp_path / "src"
    src.mkdir()
    (src / "tiny.c").write_text(TINY)
    r = _zig(zig, ["-target", f"{arch}-macos", "-c", "-I", str(headers.include), "tiny.c", "-o", "tiny.o"], src,
             link_cache)
    assert r.ok, (src / "zig.log").read_text()
    outs = []
    for d in ("one", "two/deeper"):  # the same object, linked in two directories
        work = tmp_path / d
        work.mkdir(parents=True)
        shutil.copyfile(src / "tiny.o", work / "tiny.o")
        r = _zig(zig, ["-target", f"{arch}-macos", *MACOS_LDSHARED_FLAGS, "tiny.o", "-o", name], work, link_cache)
        assert r.ok, (work / "zig.log").read_text()
        outs.append(work / name)
    m = read_macho(outs[0])
    assert m.cpu == {"aarch64": "ARM64", "x86_64": "X86_64"}[arch]
    # zig 0.17.1 cannot make an MH_BUNDLE (see the next test); a dylib is what -shared makes and dlopen() takes
    assert m.file_type == "DYLIB"
    assert "_PyInit_tiny" in m.exported
    python = {"_PyLong_FromLong", "_PyModule_Create2", "__PyArg_ParseTuple_SizeT"}
    assert python <= m.imported and python <= m.flat_lookup  # bound at load time, in the interpreter
    assert "NOUNDEFS" not in m.flags  # undefined symbols, honestly flagged
    assert m.minos == default_macos_min(arch, zig)
    assert m.install_name == name
    if arch == "aarch64":
        assert m.code_signature  # ad-hoc: arm64 macOS runs no unsigned code
    assert outs[0].read_bytes() == outs[1].read_bytes()  # signature and all


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_zig_cannot_link_a_bundle(arch: str, zig: Zig, tmp_path: Path, link_cache: Path) -> None:
    """What configure would use on a Mac (`-bundle -undefined dynamic_lookup`) crashes zig 0.17.1's Mach-O
    linker (SIGSEGV; ziglang/zig#25451): the reason for MACOS_LDSHARED_FLAGS. When zig learns it, this fails."""
    (tmp_path / "f.c").write_text("extern int PyLong_FromLong(long); int f(void) { return PyLong_FromLong(1); }\n")
    r = _zig(zig, ["-target", f"{arch}-macos", "-bundle", "-undefined", "dynamic_lookup", "f.c", "-o", "f.so"],
             tmp_path, link_cache)
    assert r.returncode in (-11, 139), (tmp_path / "zig.log").read_text()


# --- failures -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_unusable_compiler_leaves_nothing(tmp_path: Path, sandbox: Sandbox, zig: Zig) -> None:
    cache = _seeded(tmp_path / "cache", tmp_path / "fetch.log")
    with pytest.raises(VerifierError) as e:
        ensure_macos_headers("x86_64", cache, zig, sandbox=sandbox, cc="/bin/false")
    message = str(e.value)
    key = macos_headers_key("x86_64", zig.version)
    assert "\n" not in message and f"(log: {cache / key}.log)" in message
    assert sorted(p.name for p in cache.iterdir()) == sorted([TARBALL, ".python3.11-src.lock", f".{key}.lock",
                                                              f"{key}.log"])


@pytest.mark.slow
def test_answer_that_breaks_configure_leaves_nothing(tmp_path: Path, sandbox: Sandbox, zig: Zig) -> None:
    """A config.site that is not shell (configure sources it first) fails configure at once."""
    cache = _seeded(tmp_path / "cache", tmp_path / "fetch.log")
    with pytest.raises(VerifierError, match=r"configure of CPython 3\.11\.2 for aarch64-macos\.15\.0 failed \(log: "):
        ensure_macos_headers("aarch64", cache, zig, sandbox=sandbox, config_site={"ac_cv_func_pipe2": "'"})
    assert not (cache / macos_headers_key("aarch64", zig.version)).exists()
    assert not any(p.name.endswith(".tmp") for p in cache.iterdir())
