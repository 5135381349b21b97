"""Windows targets cross-built with zig from this Linux host: the import libraries come from python.org's own
DLLs, the x86_64 result is imported under Wine with the embeddable CPython, every result is compared by
structure with PyPI's wheel of the same version and tags."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from casstore.cli import cli
from verifier import BuildSetup, verify
from verifier.build.smoke import smoke_passed, wine_smoke_test
from verifier.grading.structure import describe
from verifier.plugin import cli as vcli
from verifier.toolchain import zigcache
from verifier.toolchain.targets import get_target
from verifier.toolchain.windows import WINE, ensure_windows_python, export_list, stable_abi_exports, write_def
from verifier.toolchain.zig import find_zig

from . import sdists
from .conftest import CACHE
from .pypi import fetch_published_wheel, fetch_sdist

SYSROOTS = CACHE / "sysroots"
needs_wine = pytest.mark.skipif(not WINE.is_file(), reason="Debian package wine64 missing")
SPAM = """#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) { long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL; return PyLong_FromLong(a + b); }
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "add"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "spam", NULL, -1, methods};
PyMODINIT_FUNC PyInit_spam(void) { return PyModule_Create(&mod); }
"""


@pytest.fixture(scope="module")
def win64():
    return ensure_windows_python("3.11", "x86_64", SYSROOTS)


def test_the_import_libraries_name_every_export_of_python_org_s_dlls(win64) -> None:
    exports = dict(export_list(win64.embed / "python311.dll"))
    assert len(exports) > 1500 and exports["PyLong_FromLong"] is False and exports["PyExc_TypeError"] is True
    assert exports["PyBaseObject_Type"] is True  # data lives in a section that is not executable
    abi3 = dict(export_list(win64.embed / "python3.dll", win64.embed / "python311.dll"))
    assert abi3["PyExc_TypeError"] is True and abi3["PyLong_FromLong"] is False  # forwarded, classified by target
    # python3.dll forwards three names python311.dll of a release build does not have (debug-build and
    # stack-check entries of the stable ABI list); every other one is there
    assert set(abi3) - set(exports) == {"PyOS_CheckStack", "_Py_NegativeRefcount", "_Py_RefTotal"}
    # python3.lib comes from the source's stable ABI list: the same names as the DLL's, with the source's
    # word on what is data (`_Py_RefTotal` is, and python311.dll of a release build has no such export)
    abi3_source = dict(stable_abi_exports((win64.root / "stable_abi.toml").read_text()))
    assert set(abi3_source) == set(abi3) and abi3_source["_Py_RefTotal"] is True
    assert "PyExc_TypeError DATA" in (win64.libs / "python3.def").read_text().splitlines()
    assert (win64.libs / "python311.lib").is_file() and (win64.libs / "python3.lib").is_file()
    assert (win64.include / "Python.h").is_file() and "MS_WIN64" in (win64.include / "pyconfig.h").read_text()
    assert win64.stamp["embed_sha256"] == "8a4dbddadc63ca9700370bc95e5a8e27a03c00c7ac6ab3877102bd9bb4c4f5fa"


def _pyd(tmp: Path, win64, lib: str, libdir: Path | None = None) -> Path:
    """spam.pyd compiled against the Windows headers and linked with the import library `libdir/lib.lib`."""
    (tmp / "spam.c").write_text(SPAM)
    out = tmp / "spam.cp311-win_amd64.pyd"
    trusted = zigcache.trusted_cache(find_zig(), get_target("x86_64-windows"), CACHE / "zig", ("c",), tmp / "warm.log")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "ZIG_LOCAL_CACHE_DIR": str(tmp / "zig-local"),
           "ZIG_GLOBAL_CACHE_DIR": str(zigcache.private_cache(trusted, tmp / "zig-global"))}
    subprocess.run([str(find_zig().exe), "cc", "-target", "x86_64-windows-gnu", "-O2", "-shared", "-s", "-DMS_WIN64",
                    f"-I{win64.include}", "spam.c", f"-L{libdir or win64.libs}", f"-l{lib}",
                    f"-Wl,--out-implib,{tmp / 'discarded.lib'}", "-o", out.name],
                   cwd=tmp, env=env, check=True, capture_output=True)
    return out


def _wheel(tmp: Path, pyd: Path) -> Path:
    wheel = tmp / "spam-1.0-cp311-cp311-win_amd64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(pyd, pyd.name)
    return wheel


@needs_wine
@pytest.mark.slow
def test_wine_imports_a_module_for_this_python_and_refuses_one_for_another(tmp_path, win64, sandbox) -> None:
    good = tmp_path / "good"
    good.mkdir()
    wheel = _wheel(good, _pyd(good, win64, "python311"))
    assert wine_smoke_test(wheel, ["spam"], good / "smoke", python=win64, sandbox=sandbox, log=good / "log") == "ok"
    assert "OK spam" in (good / "log").read_text()
    # the same module linked against Python 3.10's DLL (an import library naming python310.dll with the
    # same exports): the embeddable 3.11 cannot load it, so the check is real
    bad = tmp_path / "bad"
    bad.mkdir()
    df = write_def(bad / "python310.def", "python310.dll", export_list(win64.embed / "python311.dll"))
    subprocess.run([str(find_zig().exe), "dlltool", "-m", "i386:x86-64", "-d", str(df), "-l", str(bad / "python310.lib")],
                   check=True)
    pyd = _pyd(bad, win64, "python310", bad)
    assert describe(pyd.read_bytes(), pyd.name).libraries[0] == "python310.dll"
    got = wine_smoke_test(_wheel(bad, pyd), ["spam"], bad / "smoke", python=win64, sandbox=sandbox, log=bad / "log")
    assert not smoke_passed(got) and got.startswith("import failed under Wine"), got


@needs_wine
@pytest.mark.slow
def test_markupsafe_for_windows_matches_the_published_wheel_by_structure(tmp_path, wheelhouse, zig_cache, sandbox,
                                                                         warm_variations) -> None:
    published = fetch_published_wheel("markupsafe", "2.1.5", CACHE, platform="win_amd64")
    assert published is not None
    (rec,) = verify(fetch_sdist("markupsafe", "2.1.5", CACHE), ["x86_64-windows"], workdir=tmp_path / "work",
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, sysroots=SYSROOTS),
                    variations=warm_variations, diffoscope=False, published={"x86_64-windows": published})
    assert rec.grade == "reproducible", rec.reasons
    b = rec.builds[0]
    assert b.wheel_filename == "markupsafe-2.1.5-cp311-cp311-win_amd64.whl" and b.ext_modules == ["markupsafe._speedups"]
    assert b.smoke == "ok" and b.auditwheel_policy is None  # imported under Wine; auditwheel knows ELF only
    assert rec.target_checks is not None and rec.target_checks.startswith("imported on the target (under Wine)")
    assert rec.recipe.target_headers.startswith("debian:python3.11_3.11.2.orig.tar.gz:PC/pyconfig.h+pypi:")
    assert rec.structure is not None and all(c["ok"] for c in rec.structure["checks"]), rec.structure
    assert {c["name"] for c in rec.structure["checks"]} >= {"format", "arch", "kind", "exports", "libraries"}
    assert rec.modules is not None and rec.modules.missing == []
    wheel = Path(b.log_path or "").parents[1] / "out" / (b.wheel_filename or "")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        pyd = zf.read("markupsafe/_speedups.cp311-win_amd64.pyd")
    assert not [n for n in names if n.endswith((".lib", ".pdb"))], names  # zig's side files stay out
    info = describe(pyd, "_speedups.pyd")
    assert (info.format, info.arch, info.kind) == ("PE", "x86_64", "dll") and info.exports == ("PyInit__speedups",)
    assert "python311.dll" in info.libraries and "msvcrt.dll" not in info.libraries
    assert any(lib.startswith("api-ms-win-crt-") for lib in info.libraries)  # the UCRT, as python.org's CPython


def test_arm_windows_has_no_wheel_tag_and_the_cli_says_so_in_one_line(tmp_path) -> None:
    sdist = sdists.c_sdist(tmp_path)
    cli.add_command(vcli.verify, "verify")
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "verify", str(sdist), "--target", "arm-windows", "--workdir", str(tmp_path / "w")])
    assert r.exit_code == 2
    line = next(ln for ln in r.output.splitlines() if ln.startswith("Error:"))
    assert "arm-windows" in line and "no CPython wheel tag exists for 32-bit arm Windows" in line
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_stripped_windows_links_find_their_c_runtime_warmed(tmp_path) -> None:
    """Windows modules are linked with `-s`, which takes a stripped mingw-w64 C runtime: the trusted warm-up
    makes it, so a build's link compiles nothing (before, every Windows build compiled ~440 CRT objects)."""
    zig, target = find_zig(), get_target("x86_64-windows")
    trusted = zigcache.trusted_cache(zig, target, CACHE / "zig", ("c",), tmp_path / "warm.log")
    mine = zigcache.private_cache(trusted, tmp_path / "zig-global")
    before = sorted(p.name for p in (mine / "o").iterdir())
    (tmp_path / "t.c").write_text("int f(int x) { return x + 1; }\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ZIG_GLOBAL_CACHE_DIR": str(mine),
           "ZIG_LOCAL_CACHE_DIR": str(tmp_path / "local")}
    subprocess.run([str(zig.exe), "cc", "-target", target.zig_triple, "-O3", "-c", "t.c", "-o", "t.o"], cwd=tmp_path,
                   env=env, check=True)
    for flags in (["-shared", "-s"], ["-O2", "-shared", "-s"], ["-shared"], ["-O2", "-shared"]):
        subprocess.run([str(zig.exe), "cc", "-target", target.zig_triple, *flags, "t.o", "-o", "t.dll"], cwd=tmp_path,
                       env=env, check=True)
        assert sorted(p.name for p in (mine / "o").iterdir()) == before, f"a link with {flags} compiled a runtime"
