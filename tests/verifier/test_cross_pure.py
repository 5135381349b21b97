"""Cross-build pieces that need no compiler: the target table, the generated sysconfigdata, musl ELF names."""

from __future__ import annotations

import re
import sysconfig
from pathlib import Path

import pytest

from verifier import TARGETS, get_target
from verifier.build.smoke import smoke_passed
from verifier.errors import InvalidTarget
from verifier.toolchain.cross import cross_env, cross_sysconfig, host_vars, write_sysconfigdata
from verifier.toolchain.elf import needed
from verifier.toolchain.sysroot import read_sysconfigdata
from verifier.toolchain.targets import is_native


@pytest.mark.parametrize("target", sorted(n for n, t in TARGETS.items() if t.os == "linux"))
def test_every_row_is_consistent(target: str) -> None:
    t = get_target(target)
    assert t.platform_tag.endswith("_" + t.arch)
    assert t.platform_tag.startswith("musllinux_1_2_" if t.libc == "musl" else "manylinux_2_")
    assert t.ext_suffix("311") == f".cpython-311-{t.multiarch}.so"
    assert t.debian_arch and t.qemu.startswith("qemu-") and t.gnu_type


@pytest.mark.parametrize(("target", "tag", "suffix", "host"), [
    ("x86_64-windows", "win_amd64", ".cp311-win_amd64.pyd", "win-amd64"),
    ("aarch64-windows", "win_arm64", ".cp311-win_arm64.pyd", "win-arm64"),
    ("x86_64-macos", "macosx_15_0_x86_64", ".cpython-311-darwin.so", "macosx-15.0-x86_64"),
    ("aarch64-macos", "macosx_15_0_arm64", ".cpython-311-darwin.so", "macosx-15.0-arm64"),
    ("aarch64-macos.11.0", "macosx_11_0_arm64", ".cpython-311-darwin.so", "macosx-11.0-arm64"),
    ("x86_64-macos.10.9", "macosx_10_9_x86_64", ".cpython-311-darwin.so", "macosx-10.9-x86_64"),
])
def test_macos_and_windows_rows(target: str, tag: str, suffix: str, host: str) -> None:
    t = get_target(target)
    assert (t.platform_tag, t.ext_suffix("311"), t.host_platform) == (tag, suffix, host)
    assert not t.auditwheel_policy and not t.debian_arch and not is_native(t, t.arch)
    assert t.zig_triple == (f"{t.arch}-windows-gnu" if t.os == "windows" else f"{t.arch}-macos.{t.min_os}")


@pytest.mark.parametrize(("name", "why"), [
    ("arm-windows", "no CPython wheel tag exists for 32-bit arm Windows"),
    ("aarch64-macos.x", "a macOS minimum version is MAJOR.MINOR"),
    ("aarch64-windows.10", ""),
])
def test_names_get_target_refuses_say_why(name: str, why: str) -> None:
    with pytest.raises(InvalidTarget, match=re.escape(f"unknown target: {name!r}") + (f".*{re.escape(why)}" if why else "")):
        get_target(name)


def test_armv7l_and_ppc64le_spellings() -> None:
    arm = TARGETS["arm-linux-gnueabihf.2.17"]
    assert (arm.platform_tag, arm.multiarch, arm.debian_arch) == (
        "manylinux_2_17_armv7l", "arm-linux-gnueabihf", "armhf")
    assert TARGETS["powerpc64le-linux-gnu.2.19"].platform_tag == "manylinux_2_19_ppc64le"


def test_only_the_host_glibc_target_is_native() -> None:
    assert is_native(TARGETS["x86_64-linux-gnu.2.17"], "x86_64")
    assert not is_native(TARGETS["x86_64-linux-musl"], "x86_64")
    assert not is_native(TARGETS["aarch64-linux-gnu.2.17"], "x86_64")


def test_cross_sysconfig_answers_for_the_target() -> None:
    t = TARGETS["aarch64-linux-gnu.2.17"]
    v = cross_sysconfig(host_vars(), t, "311", "/inc/python3.11", {"SIZEOF_LONG": 8, "WORDS_BIGENDIAN": 0, "CC": "x"})
    assert v["EXT_SUFFIX"] == ".cpython-311-aarch64-linux-gnu.so"
    assert v["SOABI"] == "cpython-311-aarch64-linux-gnu" and v["MULTIARCH"] == "aarch64-linux-gnu"
    assert v["INCLUDEPY"] == v["CONFINCLUDEPY"] == "/inc/python3.11"
    assert v["ANDROID_API_LEVEL"] == 0 and v["Py_ENABLE_SHARED"] == 0
    assert v["CC"] == sysconfig.get_config_var("CC")  # only ABI values come from the target's own data
    assert cross_env(t) == {"_PYTHON_HOST_PLATFORM": "linux-aarch64",
                            "_PYTHON_SYSCONFIGDATA_NAME": "_sysconfigdata_cross_linux_aarch64-linux-gnu"}


def test_sysconfigdata_round_trips_and_is_deterministic(tmp_path: Path) -> None:
    t = TARGETS["s390x-linux-gnu.2.17"]
    v = cross_sysconfig(host_vars(), t, "311", "/inc", {"WORDS_BIGENDIAN": 1})
    a = write_sysconfigdata(tmp_path, t, v).read_bytes()
    assert write_sysconfigdata(tmp_path, t, dict(reversed(list(v.items())))).read_bytes() == a
    back = read_sysconfigdata(a.decode())
    assert back["WORDS_BIGENDIAN"] == 1 and back["EXT_SUFFIX"] == ".cpython-311-s390x-linux-gnu.so"


def test_needed_of_non_elf_is_empty() -> None:
    assert needed(b"not an elf file") == []
    assert "libc.so.6" in needed(Path(sysconfig.get_config_var("LIBDIR"), "libpython3.11.so.1.0").read_bytes())


def test_skipped_smoke_is_not_a_failure() -> None:
    assert smoke_passed("ok") and smoke_passed("skipped: no musl CPython")
    assert not smoke_passed("import failed: x") and not smoke_passed(None)
