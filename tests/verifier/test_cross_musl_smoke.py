"""musllinux results imported on their target: a musl CPython 3.11 built here with zig from Debian's
python3.11 source (verifier/toolchain/muslpython.py, cached under .cache/sysroots), run through Debian's musl loader
on x86_64 and under qemu-aarch64-static for aarch64. The first run builds the interpreter (minutes)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from verifier import BuildSetup, verify
from verifier.build.smoke import sysroot_smoke_test
from verifier.exec.command import run
from verifier.toolchain.elf import interpreter, needed
from verifier.toolchain.muslpython import MuslPython, ensure_musl_python, musl_python_key
from verifier.toolchain.zig import find_zig

from .conftest import CACHE
from .pypi import fetch_published_wheel, fetch_sdist

SYSROOTS = CACHE / "sysroots"


def test_argv_runs_the_loader_natively_and_qemu_for_another_arch(tmp_path) -> None:
    m = MuslPython(tmp_path / "root", "aarch64", {})
    assert m.argv() == [str(tmp_path / "root/lib/ld-musl-aarch64.so.1"), str(tmp_path / "root/usr/bin/python3.11")]
    assert m.argv("/usr/bin/qemu-aarch64-static") == ["/usr/bin/qemu-aarch64-static", "-L", str(tmp_path / "root"),
                                                      str(tmp_path / "root/usr/bin/python3.11")]
    assert m.host_argv("aarch64") == m.argv()
    assert MuslPython(tmp_path, "x86_64", {}).host_argv("x86_64")[0].endswith("ld-musl-x86_64.so.1")


def test_cache_key_names_source_zig_and_arch() -> None:
    assert musl_python_key("aarch64", "0.17.1") == "musl-cpython-3.11.2-aarch64-zig0.17.1"
    assert musl_python_key("x86_64", "0.17.1") != musl_python_key("x86_64", "0.18.0")


@pytest.fixture(scope="module")
def musl_x86_64() -> MuslPython:
    return ensure_musl_python("x86_64", SYSROOTS)


def _py(musl: MuslPython, code: str, tmp_path: Path) -> str:
    r = run([*musl.host_argv(), "-c", code], cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            log=tmp_path / "py.log")
    assert r.ok, r.output
    return r.output.splitlines()[-1]


@pytest.mark.slow
def test_the_interpreter_is_a_dynamic_musl_cpython(musl_x86_64, tmp_path) -> None:
    out = _py(musl_x86_64, "import sys, sysconfig; print(sys.version.split()[0], "
              "sysconfig.get_config_var('EXT_SUFFIX'), sysconfig.get_config_var('MULTIARCH'))", tmp_path)
    assert out == "3.11.2 .cpython-311-x86_64-linux-musl.so x86_64-linux-musl"
    assert interpreter(musl_x86_64.python.read_bytes()) == "/lib/ld-musl-x86_64.so.1"  # dynamic, not static
    assert needed(musl_x86_64.python.read_bytes()) == ["libc.so"]
    assert musl_x86_64.stamp["source"] == "debian:python3.11_3.11.2.orig.tar.gz"
    assert str(musl_x86_64.stamp["musl"]).startswith("debian:musl_1.2.3")


_PROBE = r"""
#include <Python.h>
#ifdef GLIBC_ONLY
#include <gnu/libc-version.h>
static PyObject *libc(PyObject *s, PyObject *a) { return PyUnicode_FromString(gnu_get_libc_version()); }
#else
static PyObject *libc(PyObject *s, PyObject *a) { return PyUnicode_FromString("any"); }
#endif
static PyMethodDef methods[] = {{"libc", libc, METH_NOARGS, ""}, {0}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "probe", 0, -1, methods};
PyMODINIT_FUNC PyInit_probe(void) { return PyModule_Create(&def); }
"""


def _probe_wheel(musl: MuslPython, zig_triple: str, defines: list[str], dest: Path, zig_cache: Path) -> Path:
    """A wheel holding one extension module `probe`, compiled by zig for `zig_triple` against the musl
    CPython's headers and named with the musl suffix, so the musl interpreter does try to load it."""
    dest.mkdir()
    (dest / "probe.c").write_text(_PROBE)
    so = dest / "probe.cpython-311-x86_64-linux-musl.so"
    r = run([str(find_zig().exe), "cc", "-target", zig_triple, "-shared", "-fPIC", *defines,
             f"-I{musl.root / 'usr/include/python3.11'}", "-o", str(so), str(dest / "probe.c")], cwd=dest,
            env={"PATH": "/usr/bin:/bin", "ZIG_GLOBAL_CACHE_DIR": str(zig_cache), "ZIG_LOCAL_CACHE_DIR": str(zig_cache)},
            log=dest / "zig.log")
    assert r.ok, r.output
    wheel = dest / "probe-0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(so, so.name)
    return wheel


@pytest.mark.slow
def test_the_import_is_real_glibc_only_symbols_fail_under_musl(musl_x86_64, tmp_path, zig_cache) -> None:
    """The same module imports when built for musl and fails when built for glibc and calling glibc-only API.
    (musl's loader maps any libc.so.* to itself, so a glibc extension that uses only symbols musl also has
    does load: PyPI's manylinux markupsafe would pass; one that needs glibc does not.)"""
    argv = musl_x86_64.host_argv()
    musl = _probe_wheel(musl_x86_64, "x86_64-linux-musl", [], tmp_path / "musl", zig_cache)
    glibc = _probe_wheel(musl_x86_64, "x86_64-linux-gnu.2.17", ["-DGLIBC_ONLY"], tmp_path / "glibc", zig_cache)
    assert sysroot_smoke_test(musl, ["probe"], tmp_path / "m", python=argv, label="musl", sandbox=None,
                              log=tmp_path / "m.log") == "ok"
    got = sysroot_smoke_test(glibc, ["probe"], tmp_path / "g", python=argv, label="musl", sandbox=None,
                             log=tmp_path / "g.log")
    assert got.startswith("import failed under musl")
    assert "gnu_get_libc_version: symbol not found" in (tmp_path / "g.log").read_text()


@pytest.mark.slow
def test_pypi_musllinux_wheel_imports(musl_x86_64, tmp_path) -> None:
    """A musllinux wheel built elsewhere (PyPI's, built on Alpine with gcc) imports as well."""
    wheel = fetch_published_wheel("markupsafe", "2.1.5", CACHE, "musllinux_1_1_x86_64")
    assert wheel is not None
    got = sysroot_smoke_test(wheel, ["markupsafe._speedups"], tmp_path, python=musl_x86_64.host_argv(), label="musl",
                             sandbox=None, log=tmp_path / "m.log")
    assert got == "ok", (tmp_path / "m.log").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_markupsafe_musl_imports_under_musl_cpython(arch, tmp_path, wheelhouse, zig_cache, sandbox,
                                                    warm_variations) -> None:
    """A real sdist rebuilt for musllinux and imported on its target: natively through the musl loader for
    x86_64, under qemu-aarch64-static for aarch64 (the verifier builds the interpreter on first use)."""
    (rec,) = verify(fetch_sdist("markupsafe", "2.1.5", CACHE), [f"{arch}-linux-musl"], workdir=tmp_path / "work",
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, sysroots=SYSROOTS),
                    variations=warm_variations, diffoscope=False)
    assert rec.grade == "reproducible", rec.reasons
    b = rec.builds[0]
    assert (b.wheel_filename or "").lower() == f"markupsafe-2.1.5-cp311-cp311-musllinux_1_2_{arch}.whl"
    assert b.smoke == "ok"
    log = Path(b.log_path or "").read_text()
    assert "OK markupsafe._speedups" in log
    runner = f"ld-musl-{arch}.so.1" if arch == "x86_64" else "qemu-aarch64-static -L"
    assert f"{runner} " in log and f"musl-cpython-3.11.2-{arch}-" in log
