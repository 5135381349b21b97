"""Meson cross files and CMake toolchain files generated from the zig toolchain: pure text, parsed back."""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

import pytest

from verifier.toolchain.cmake import cmake_toolchain_file
from verifier.toolchain.meson import LONGDOUBLE_FORMAT, meson_cross_file, meson_setup_args
from verifier.toolchain.targets import TARGETS, get_target
from verifier.toolchain.zig import find_zig

BIN = "/b/root/bin"
TOOLS = {"CC": f"{BIN}/cc", "CXX": f"{BIN}/c++", "AR": f"{BIN}/ar", "RANLIB": f"{BIN}/ranlib", "LD": f"{BIN}/ld"}
HOST_MACHINE = {
    "x86_64-linux-gnu.2.17": ("x86_64", "x86_64", "little"),
    "aarch64-linux-gnu.2.17": ("aarch64", "aarch64", "little"),
    "aarch64-linux-musl": ("aarch64", "aarch64", "little"),
    "arm-linux-gnueabihf.2.17": ("arm", "armv7l", "little"),
    "powerpc64le-linux-gnu.2.19": ("ppc64", "ppc64le", "little"),
    "s390x-linux-gnu.2.17": ("s390x", "s390x", "big"),
}


def _parse(text: str) -> dict[str, dict[str, object]]:
    cp = configparser.ConfigParser()
    cp.read_string(text)
    return {s: {k: ast.literal_eval(v) if v not in ("true", "false") else v == "true" for k, v in cp[s].items()}
            for s in cp.sections()}


@pytest.mark.parametrize("name", sorted(HOST_MACHINE))
def test_meson_cross_file_host_machine_is_the_target(name: str) -> None:
    target = get_target(name)
    ini = _parse(meson_cross_file(target, TOOLS, python="/b/root/venv/bin/python", machine="x86_64"))
    family, cpu, endian = HOST_MACHINE[name]
    assert ini["host_machine"] == {"system": "linux", "cpu_family": family, "cpu": cpu, "endian": endian}
    assert ini["properties"]["needs_exe_wrapper"] is (target.arch != "x86_64")
    assert ini["properties"]["longdouble_format"] == LONGDOUBLE_FORMAT[target.arch]


def test_meson_cross_file_every_target_has_a_cpu_family() -> None:
    for target in TARGETS.values():
        assert "[host_machine]" in meson_cross_file(target, TOOLS, python="python")


def test_meson_cross_file_tools_are_the_zig_wrappers_and_the_venv() -> None:
    text = meson_cross_file(get_target("aarch64-linux-gnu.2.17"), TOOLS, python="/v/bin/python",
                            cython="/v/bin/cython", pkg_config="/usr/bin/pkg-config",
                            pkg_config_libdir=["/b/native/qhull/lib/pkgconfig", "/b/native/freetype/lib/pkgconfig"])
    b = _parse(text)["binaries"]
    assert (b["c"], b["cpp"], b["ar"]) == (f"{BIN}/cc", f"{BIN}/c++", f"{BIN}/ar")
    assert b["python"] == b["python3"] == "/v/bin/python" and b["cython"] == "/v/bin/cython"
    assert b["pkg-config"] == "/usr/bin/pkg-config"
    assert _parse(text)["properties"]["pkg_config_libdir"] == ["/b/native/qhull/lib/pkgconfig",
                                                               "/b/native/freetype/lib/pkgconfig"]


def test_meson_cross_file_without_native_libraries_finds_no_pkg_config_files() -> None:
    props = _parse(meson_cross_file(get_target("x86_64-linux-gnu.2.17"), TOOLS, python="p"))["properties"]
    assert props["pkg_config_libdir"] == [""]  # pkg-config's default path (the host's /usr) is never searched
    b = _parse(meson_cross_file(get_target("x86_64-linux-gnu.2.17"), TOOLS, python="p"))["binaries"]
    assert "cython" not in b and "pkg-config" not in b


def test_meson_cross_file_quotes_paths() -> None:
    text = meson_cross_file(get_target("x86_64-linux-gnu.2.17"), {**TOOLS, "CC": "/a b/it's/cc"}, python="p")
    assert _parse(text)["binaries"]["c"] == "/a b/it's/cc"


def test_meson_setup_args_names_the_cross_file() -> None:
    assert meson_setup_args("/b/bin/meson-cross.ini") == ["setup-args=--cross-file=/b/bin/meson-cross.ini"]


def test_cross_file_from_real_zig_wrappers(tmp_path: Path) -> None:
    target = get_target("aarch64-linux-gnu.2.17")
    tools = find_zig().write_wrappers(tmp_path / "bin", target, cache_dir=tmp_path / "zc", prefix_map={})
    b = _parse(meson_cross_file(target, tools, python="p"))["binaries"]
    for key in ("c", "cpp", "ar", "ranlib"):
        assert Path(str(b[key])).is_file()
    assert "-target aarch64-linux-gnu.2.17" in Path(str(b["c"])).read_text()


def _cmake_sets(text: str) -> dict[str, list[str]]:
    out = {}
    for m in re.finditer(r"^set\((\w+)((?: \"[^\"]*\"| \w+)*)\)$", text, re.MULTILINE):
        out[m.group(1)] = [v.strip('"') for v in re.findall(r"\"[^\"]*\"|\w+", m.group(2))]
    return out


@pytest.mark.parametrize("name", ["x86_64-linux-gnu.2.17", "aarch64-linux-gnu.2.17", "s390x-linux-gnu.2.17"])
def test_cmake_toolchain_file(name: str) -> None:
    target = get_target(name)
    sets = _cmake_sets(cmake_toolchain_file(target, TOOLS, roots=["/b/native/zlib"]))
    assert sets["CMAKE_SYSTEM_NAME"] == ["Linux"] and sets["CMAKE_SYSTEM_PROCESSOR"] == [target.arch]
    assert sets["CMAKE_C_COMPILER"] == [f"{BIN}/cc"] and sets["CMAKE_CXX_COMPILER"] == [f"{BIN}/c++"]
    assert sets["CMAKE_AR"] == [f"{BIN}/ar"] and sets["CMAKE_RANLIB"] == [f"{BIN}/ranlib"]
    assert sets["CMAKE_FIND_ROOT_PATH"] == ["/b/native/zlib"]
    assert sets["CMAKE_FIND_ROOT_PATH_MODE_LIBRARY"] == sets["CMAKE_FIND_ROOT_PATH_MODE_INCLUDE"] == ["ONLY"]
    assert sets["CMAKE_FIND_ROOT_PATH_MODE_PROGRAM"] == ["NEVER"]
    # the host's prefixes are never searched, with or without roots
    assert sets["CMAKE_FIND_USE_CMAKE_SYSTEM_PATH"] == sets["CMAKE_FIND_USE_SYSTEM_ENVIRONMENT_PATH"] == ["OFF"]


def test_cmake_toolchain_file_without_roots() -> None:
    sets = _cmake_sets(cmake_toolchain_file(get_target("x86_64-linux-gnu.2.17"), TOOLS))
    assert sets["CMAKE_FIND_ROOT_PATH"] == []


@pytest.mark.parametrize(("name", "system", "cmake"), [
    ("x86_64-windows", "windows", "Windows"), ("aarch64-windows", "windows", "Windows"),
    ("x86_64-macos", "darwin", "Darwin"), ("aarch64-macos.11.0", "darwin", "Darwin")])
def test_macos_and_windows_build_files_name_their_system_and_need_an_exe_wrapper(name: str, system: str,
                                                                                 cmake: str) -> None:
    target = get_target(name)
    ini = _parse(meson_cross_file(target, TOOLS, python="/b/root/venv/bin/python", machine="x86_64"))
    assert ini["host_machine"]["system"] == system and ini["host_machine"]["cpu"] == target.arch
    assert ini["properties"]["needs_exe_wrapper"] is True  # x86_64 too: a Windows or macOS program cannot run here
    assert _cmake_sets(cmake_toolchain_file(target, TOOLS))["CMAKE_SYSTEM_NAME"] == [cmake]
