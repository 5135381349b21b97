"""Structural comparison of a rebuilt wheel's binaries with the published wheel's, on markupsafe 2.1.5's real
wheels from PyPI (cached in .cache/published/) and on small extensions zig links for macOS and Windows."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.errors import InvalidBinary, VerifierError
from verifier.grading.structure import (
    Binary,
    Check,
    StructureReport,
    compare_binaries,
    compare_wheels,
    describe,
    describe_slices,
    extension_members,
    tag_arches,
)
from verifier.toolchain import zigcache
from verifier.toolchain.targets import get_target
from verifier.toolchain.zig import find_zig

from .conftest import CACHE
from .pypi import fetch_published_wheel

PLATFORMS = ["win_amd64", "macosx_10_9_x86_64", "macosx_10_9_universal2", "manylinux_2_17_x86_64"]
MODULE = "markupsafe._speedups"


def published(platform: str) -> Path:
    wheel = fetch_published_wheel("markupsafe", "2.1.5", CACHE, platform=platform)
    assert wheel is not None, f"PyPI has no markupsafe 2.1.5 cp311 wheel for {platform}"
    return wheel


def extension(wheel: Path) -> tuple[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        (member,) = extension_members(zf.namelist()).values()
        return member, zf.read(member)


def make_wheel(directory: Path, platform: str, members: dict[str, bytes]) -> Path:
    """A wheel holding just `members` (the comparison reads nothing else)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"MarkupSafe-2.1.5-cp311-cp311-{platform}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# -- the published wheels ----------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_published_wheel_matches_itself(platform: str) -> None:
    wheel = published(platform)
    report = compare_wheels(wheel, wheel)
    assert report.ok, report.summary
    expected = {"format", "arch", "kind", "exports"}
    if not platform.startswith("manylinux"):
        expected.add("libraries")
    if platform.startswith("macosx"):
        expected.add("min_os")
    if "universal2" in platform:
        expected.add("signed")
        assert {c.module for c in report.checks} == {f"{MODULE}[x86_64]", f"{MODULE}[aarch64]"}
    assert {c.name for c in report.checks} == expected
    assert report.summary == f"structure matches the published wheel: {len(report.checks)} checks on 1 module"


def test_published_binaries_described() -> None:
    pe = describe(extension(published("win_amd64"))[1], "x.pyd")
    assert (pe.format, pe.arch, pe.kind, pe.exports) == ("PE", "x86_64", "dll", ("PyInit__speedups",))
    # MSVC's build: the UCRT, vcruntime140 and kernel32, names lower-cased
    assert set(pe.libraries) == {"python311.dll", "kernel32.dll", "vcruntime140.dll", "api-ms-win-crt-runtime-l1-1-0.dll"}
    assert "PyModule_Create2" in pe.imported_symbols and not pe.signed and pe.min_os is None

    mac = describe(extension(published("macosx_10_9_x86_64"))[1], "x.so")
    assert (mac.format, mac.arch, mac.kind, mac.min_os, mac.signed) == ("MachO", "x86_64", "bundle", "10.9", False)
    assert mac.exports == ("PyInit__speedups",) and mac.libraries == ("/usr/lib/libSystem.B.dylib",)
    # ld64 sets MH_NOUNDEFS on a two-level-namespace bundle although CPython's symbols are left undefined
    # (-undefined dynamic_lookup), and this wheel loads: NOUNDEFS with undefined symbols is normal
    assert {"NOUNDEFS", "TWOLEVEL"} <= set(mac.flags) and "PyModule_Create2" in mac.imported_symbols

    x86, arm = describe_slices(extension(published("macosx_10_9_universal2"))[1], "x.so")
    assert (x86.arch, x86.min_os, x86.signed) == ("x86_64", "10.9", False)
    assert (arm.arch, arm.min_os, arm.signed) == ("aarch64", "11.0", True)  # minos 11.0 in a 10_9 tag
    assert x86.slices == arm.slices == ("x86_64", "aarch64")
    assert describe(extension(published("macosx_10_9_universal2"))[1], "x.so", "aarch64") == arm

    elf = describe(extension(published("manylinux_2_17_x86_64"))[1], "x.so")
    assert (elf.format, elf.arch, elf.kind, elf.exports) == ("ELF", "x86_64", "shared-object", ("PyInit__speedups",))
    assert set(elf.libraries) == {"libc.so.6", "libpthread.so.0"} and "PyModule_Create2" in elf.imported_symbols


def test_windows_against_macos_fails_on_format() -> None:
    report = compare_wheels(published("win_amd64"), published("macosx_10_9_x86_64"))
    assert not report.ok
    assert report.failures[0] == Check(MODULE, "format", False, "PE vs MachO")
    assert report.summary.startswith("structure differs: format PE vs MachO in markupsafe._speedups")


def test_x86_64_code_in_an_arm64_wheel_fails_on_arch(tmp_path: Path) -> None:
    """A 'rebuild' for macosx_11_0_arm64 that holds x86_64 code meets the arm64 slice of the published
    universal2 wheel (the one pip installs on arm64): the arch check fails, the format check passes."""
    member, data = extension(published("macosx_10_9_x86_64"))
    rebuilt = make_wheel(tmp_path, "macosx_11_0_arm64", {member: data})
    report = compare_wheels(rebuilt, published("macosx_10_9_universal2"))
    checks = {c.name: c for c in report.checks}
    assert checks["format"].ok and not checks["arch"].ok
    assert checks["arch"].detail.startswith("x86_64 vs aarch64 (published universal binary, slices x86_64, aarch64)")
    assert "the tag macosx_11_0_arm64 names aarch64" in checks["arch"].detail
    assert report.summary.startswith("structure differs: arch x86_64 vs aarch64")


def test_a_module_only_the_published_wheel_has_fails(tmp_path: Path) -> None:
    member, data = extension(published("win_amd64"))
    empty = make_wheel(tmp_path, "win_amd64", {"markupsafe/__init__.py": b""})
    missing = compare_wheels(empty, published("win_amd64"))
    assert missing.checks == (Check(MODULE, "present", False,
                                    "in MarkupSafe-2.1.5-cp311-cp311-win_amd64.whl, not in the rebuilt wheel"),)
    extra = make_wheel(tmp_path / "extra", "win_amd64", {member: data, "markupsafe/_extra.cp311-win_amd64.pyd": data})
    report = compare_wheels(extra, published("win_amd64"))
    assert report.ok and Check("markupsafe._extra", "present", True,
                               "only in the rebuilt wheel, not in MarkupSafe-2.1.5-cp311-cp311-win_amd64.whl"
                               ) in report.checks


# -- pure: checks on Binary values --------------------------------------------------------------------------

ARM = Binary("x.so", "MachO", "aarch64", "bundle", ("PyInit_x",), ("/usr/lib/libSystem.B.dylib",),
             ("PyModule_Create2",), "11.0", True, ("NOUNDEFS", "DYLDLINK", "TWOLEVEL"))


def failing(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.detail for c in checks if not c.ok}


def test_the_checks_of_a_macos_arm64_binary() -> None:
    tag = "macosx_11_0_arm64"
    assert failing(compare_binaries(ARM, ARM, "x", tag)) == {}
    assert failing(compare_binaries(replace(ARM, signed=False), ARM, "x", tag)) == {
        "signed": "arm64 code without LC_CODE_SIGNATURE"}
    assert failing(compare_binaries(replace(ARM, min_os="15.0"), ARM, "x", tag)) == {
        "min_os": "15.0 > 11.0; published 11.0"}
    assert failing(compare_binaries(replace(ARM, min_os=None), ARM, "x", tag)) == {
        "min_os": "no LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX; published 11.0"}
    assert failing(compare_binaries(replace(ARM, exports=("PyInit_y",)), ARM, "x", tag)) == {
        "exports": "missing PyInit_x; extra PyInit_y"}
    python = replace(ARM, libraries=(*ARM.libraries, "/Library/Frameworks/Python.framework/Versions/3.11/Python"))
    assert failing(compare_binaries(python, ARM, "x", tag)) == {
        "libraries": "/Library/Frameworks/Python.framework/Versions/3.11/Python not provided by CPython or the OS"}
    # system frameworks and libc++ are provided; what only the published loads is detail
    cf = replace(ARM, libraries=("/usr/lib/libc++.1.dylib",
                                 "/System/Library/Frameworks/CoreFoundation.framework/Versions/A/CoreFoundation"))
    (libs,) = [c for c in compare_binaries(cf, ARM, "x", tag) if c.name == "libraries"]
    assert libs.ok and libs.detail == "2 libraries, all provided; only the published binary loads /usr/lib/libSystem.B.dylib"
    # a dylib loads like a bundle; an executable does not
    assert failing(compare_binaries(replace(ARM, kind="dylib"), ARM, "x", tag)) == {}
    assert failing(compare_binaries(replace(ARM, kind="executable"), ARM, "x", tag)) == {"kind": "executable vs bundle"}
    # NOUNDEFS is recorded, not judged (see the module docstring)
    assert failing(compare_binaries(replace(ARM, flags=("DYLDLINK", "TWOLEVEL")), ARM, "x", tag)) == {}


def test_arm64_slices_may_require_macos_11_under_an_older_tag() -> None:
    tag = "macosx_10_9_universal2"
    assert failing(compare_binaries(ARM, ARM, "x", tag)) == {}
    assert failing(compare_binaries(replace(ARM, arch="x86_64", min_os="11.0"), replace(ARM, arch="x86_64"), "x",
                                    tag)) == {"min_os": "11.0 > 10.9; published 11.0"}


def test_windows_libraries_allow_the_ucrt_and_not_msvcrt() -> None:
    dll = Binary("x.pyd", "PE", "x86_64", "dll", ("PyInit_x",),
                 ("python311.dll", "kernel32.dll", "api-ms-win-crt-stdio-l1-1-0.dll", "ucrtbase.dll",
                  "vcruntime140_1.dll", "python3.dll"))
    assert failing(compare_binaries(dll, dll, "x", "win_amd64")) == {}
    bad = replace(dll, libraries=("msvcrt.dll", "python311.dll", "user32.dll"))
    assert failing(compare_binaries(bad, replace(dll, libraries=("python311.dll", "ucrtbase.dll")), "x",
                                    "win_amd64")) == {
        "libraries": "msvcrt.dll, user32.dll not provided by CPython or the OS; "
                     "only the published binary loads ucrtbase.dll"}


def test_extension_members_and_tags() -> None:
    members = ["markupsafe/_speedups.cp311-win_amd64.pyd", "foo/_x.cpython-311-darwin.so", "foo/_y.abi3.so",
               "pillow.libs/libjpeg-1a2b.so.62", "pillow.libs/libz-3c4d.so", "foo/.dylibs/libz.1.dylib",
               "foo-1.0.data/purelib/bar.so", "foo/__init__.py", "numpy.libs/libopenblas.dll"]
    assert extension_members(members) == {"markupsafe._speedups": "markupsafe/_speedups.cp311-win_amd64.pyd",
                                          "foo._x": "foo/_x.cpython-311-darwin.so", "foo._y": "foo/_y.abi3.so"}
    assert tag_arches("macosx_10_9_universal2") == (("x86_64", "aarch64"), (10, 9))
    assert tag_arches("macosx_11_0_arm64") == (("aarch64",), (11, 0))
    assert tag_arches("manylinux_2_17_x86_64.manylinux2014_x86_64") == ((), None)


def test_what_is_not_a_binary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidBinary, match="not an ELF, PE or Mach-O binary"):
        describe(b"\x7fELF but not really", "bad.so")
    wheel = make_wheel(tmp_path, "win_amd64", {"markupsafe/_speedups.cp311-win_amd64.pyd": b"MZ junk"})
    with pytest.raises(InvalidBinary, match="_speedups.cp311-win_amd64.pyd"):
        compare_wheels(wheel, wheel)


# -- the report reads back ------------------------------------------------------------------------------------

texts = st.text(max_size=20)
checks = st.builds(Check, texts, texts, st.booleans(), texts)
reports = st.builds(StructureReport, texts, texts, st.lists(checks, max_size=6).map(tuple))


@settings(max_examples=100, deadline=None)
@given(reports)
def test_reports_round_trip_through_json(report: StructureReport) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    assert StructureReport.from_dict(data) == report
    assert data["summary"] == report.summary and data["ok"] is report.ok


def test_a_malformed_report_dict_is_refused() -> None:
    with pytest.raises(VerifierError, match="invalid structure report"):
        StructureReport.from_dict({"rebuilt": "a", "published": "b", "checks": [{"module": "m", "name": "n",
                                                                                  "ok": "yes", "detail": ""}]})


# -- binaries zig links ------------------------------------------------------------------------------------

INIT_C = """\
{decl} void *PyModule_Create2(void *, int);
int puts(const char *);
static char def[64];
{export} void *PyInit__speedups(void) {{ puts("hi"); return PyModule_Create2(def, 1013); }}
"""


def runtime_copy(zig_cache: Path, tmp_path: Path, target: str) -> Path:
    """A private copy of the verifier's warmed zig cache for `target` (made once, shared with the build tests:
    the mingw-w64 C runtime alone takes a minute or two to compile)."""
    trusted = zigcache.trusted_cache(find_zig(), get_target(target), zig_cache, ("c",), tmp_path / "warm.log")
    return zigcache.private_cache(trusted, tmp_path / "zig-global")


def zig(tmp_path: Path, zig_cache: Path, *args: str) -> None:
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(zig_cache), "ZIG_LOCAL_CACHE_DIR": str(tmp_path / "zc")}
    subprocess.run([str(find_zig().exe), *args], check=True, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_zig_macos_extensions(tmp_path: Path, zig_cache: Path) -> None:
    """zig cc has no -bundle (it crashes, leaving a zero-filled file); `-shared -undefined dynamic_lookup`
    links an MH_DYLIB, ad-hoc signed on arm64, without MH_NOUNDEFS, with minos 15.0 unless the target names
    a version. With `aarch64-macos.11.0` it meets the published universal2 wheel's arm64 slice."""
    zig_cache = runtime_copy(zig_cache, tmp_path, "aarch64-macos")
    (tmp_path / "m.c").write_text(INIT_C.format(decl="extern", export=""))
    for target, out in [("aarch64-macos.11.0", "a11.so"), ("aarch64-macos", "a.so")]:
        zig(tmp_path, zig_cache, "cc", "-target", target, "-shared", "-undefined", "dynamic_lookup", "-O2",
            "m.c", "-o", out)
    arm = describe((tmp_path / "a11.so").read_bytes(), "a11.so")
    assert (arm.format, arm.arch, arm.kind, arm.min_os, arm.signed) == ("MachO", "aarch64", "dylib", "11.0", True)
    assert arm.libraries == ("/usr/lib/libSystem.B.dylib",)  # its own LC_ID_DYLIB is not a library it loads
    assert "NOUNDEFS" not in arm.flags and "PyModule_Create2" in arm.imported_symbols
    member = "markupsafe/_speedups.cpython-311-darwin.so"

    rebuilt = make_wheel(tmp_path, "macosx_11_0_arm64", {member: (tmp_path / "a11.so").read_bytes()})
    report = compare_wheels(rebuilt, published("macosx_10_9_universal2"))
    assert report.ok, report.summary
    assert {c.name: c.detail for c in report.checks}["kind"] == "dylib vs bundle"

    x86 = compare_wheels(rebuilt, published("macosx_10_9_x86_64"))
    assert failing(list(x86.checks)) == {"arch": "aarch64 vs x86_64"}

    default = make_wheel(tmp_path / "default", "macosx_11_0_arm64", {member: (tmp_path / "a.so").read_bytes()})
    assert failing(list(compare_wheels(default, published("macosx_10_9_universal2")).checks)) == {
        "min_os": "15.0 > 11.0; published 11.0"}


@pytest.mark.slow
def test_zig_windows_extensions_ucrt_passes_msvcrt_fails(tmp_path: Path, zig_cache: Path) -> None:
    """zig's x86_64-windows-gnu links mingw-w64 against the UCRT; `-lmsvcrt` is not found, so the msvcrt
    build links a hand-made msvcrt.dll import library (zig dlltool) without zig's C runtime."""
    zig_cache = runtime_copy(zig_cache, tmp_path, "x86_64-windows")
    (tmp_path / "python311.def").write_text("LIBRARY python311.dll\nEXPORTS\nPyModule_Create2\n")
    (tmp_path / "msvcrt.def").write_text("LIBRARY msvcrt.dll\nEXPORTS\nputs\n")
    for name in ("python311", "msvcrt"):
        zig(tmp_path, zig_cache, "dlltool", "-m", "i386:x86-64", "-d", f"{name}.def", "-l", f"{name}.lib")
    (tmp_path / "w.c").write_text(INIT_C.format(decl="__declspec(dllimport)", export="__declspec(dllexport)"))
    (tmp_path / "entry.c").write_text("int __stdcall DllMainCRTStartup(void *h, unsigned long r, void *p)"
                                      " { (void)h; (void)r; (void)p; return 1; }\n")
    zig(tmp_path, zig_cache, "cc", "-target", "x86_64-windows-gnu", "-shared", "-O2", "w.c", "python311.lib",
        "-o", "ucrt.pyd")
    zig(tmp_path, zig_cache, "cc", "-target", "x86_64-windows-gnu", "-shared", "-O2", "-nostdlib", "w.c",
        "entry.c", "python311.lib", "msvcrt.lib", "-o", "msvcrt.pyd")
    member = "markupsafe/_speedups.cp311-win_amd64.pyd"
    ucrt = describe((tmp_path / "ucrt.pyd").read_bytes(), "ucrt.pyd")
    assert "msvcrt.dll" not in ucrt.libraries and any(lib.startswith("api-ms-win-crt-") for lib in ucrt.libraries)
    report = compare_wheels(make_wheel(tmp_path, "win_amd64", {member: (tmp_path / "ucrt.pyd").read_bytes()}),
                            published("win_amd64"))
    assert report.ok, report.summary
    assert "only the published binary loads vcruntime140.dll" in {c.name: c.detail for c in report.checks}["libraries"]

    bad = describe((tmp_path / "msvcrt.pyd").read_bytes(), "msvcrt.pyd")
    assert set(bad.libraries) == {"msvcrt.dll", "python311.dll"}
    report = compare_wheels(make_wheel(tmp_path / "msvcrt", "win_amd64", {member: (tmp_path / "msvcrt.pyd").read_bytes()}),
                            published("win_amd64"))
    assert failing(list(report.checks)) == {"libraries": "msvcrt.dll not provided by CPython or the OS; only the "
                                            "published binary loads api-ms-win-crt-runtime-l1-1-0.dll, "
                                            "kernel32.dll, vcruntime140.dll"}
