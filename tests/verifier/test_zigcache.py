"""The trusted zig cache: warmed once by trusted code, copied for each build, never half-made."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from verifier.errors import VerifierError
from verifier.toolchain import zigcache
from verifier.toolchain.targets import get_target
from verifier.toolchain.zig import find_zig

TARGET = "x86_64-linux-gnu.2.17"


def test_runtime_languages_follow_the_source_languages() -> None:
    assert zigcache.runtime_languages([]) == ("c",)
    assert zigcache.runtime_languages(["c", "cython"]) == ("c",)
    assert zigcache.runtime_languages(["c++"]) == ("c", "c++")
    assert zigcache.runtime_languages(["cython", "c++", "c"]) == ("c", "c++")


def test_the_trusted_cache_is_warmed_once_and_its_objects_name_the_root_directory(
        zig_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zig, target = find_zig(), get_target(TARGET)
    first = zigcache.trusted_cache(zig, target, zig_cache, ("c",), tmp_path / "warm.log")
    assert (first / ".casstore-warmed").is_file()
    assert any(first.rglob("*.o")) and any(first.rglob("*.a")), "the warm-up compiled no runtime library"

    def refuse(*_: object) -> Path:
        raise AssertionError("warmed a second time")

    monkeypatch.setattr(zigcache, "warm", refuse)
    assert zigcache.trusted_cache(zig, target, zig_cache, ("c",), tmp_path / "warm.log") == first

    # a link in every warmed mode (a bare `cc -shared` as setuptools runs it is Debug) compiles nothing new,
    # and the runtime code it links was compiled from "/" (compiler_rt from zig's own installation), so no
    # debug information names the working directory of the build that links it
    mine = zigcache.private_cache(first, tmp_path / "build" / "zig-cache")
    before = sorted(p.name for p in (mine / "o").iterdir())
    work = tmp_path / "build" / "src"
    work.mkdir()
    (work / "m.c").write_text("int m(int x) { return x + 1; }\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "ZIG_GLOBAL_CACHE_DIR": str(mine),
           "ZIG_LOCAL_CACHE_DIR": str(tmp_path / "build" / "local")}
    for mode in ("-O2", "-O3", "", "-O0"):
        subprocess.run([str(zig.exe), "cc", "-target", target.zig_triple, "-g", "-fPIC", "-c", "m.c", "-o", "m.o"],
                       cwd=work, env=env, check=True)
        subprocess.run([str(zig.exe), "cc", "-target", target.zig_triple, *([mode] if mode else []), "-shared",
                        "m.o", "-o", f"m{mode}.so"], cwd=work, env=env, check=True)
        assert sorted(p.name for p in (mine / "o").iterdir()) == before, f"a link with {mode!r} compiled a runtime"
        assert _comp_dirs(work / f"m{mode}.so") <= {"/", str(zig.exe.resolve().parent / "lib"), str(work)}


def _comp_dirs(lib: Path) -> set[str]:
    with lib.open("rb") as f:
        dwarf = ELFFile(f).get_dwarf_info()
        return {a.value.decode() for cu in dwarf.iter_CUs()
                if (a := cu.get_top_DIE().attributes.get("DW_AT_comp_dir")) is not None}


def test_a_failed_warm_up_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(zigcache.WARM_SOURCES, "c", ("warm.c", "this is not C;\n"))
    with pytest.raises(VerifierError, match="cannot build its c runtime"):
        zigcache.trusted_cache(find_zig(), get_target(TARGET), tmp_path, ("c",), tmp_path / "warm.log")
    assert sorted(p.name for p in (tmp_path / "runtime").iterdir()) == [".lock"]


def test_a_private_copy_is_the_build_s_own(tmp_path: Path) -> None:
    trusted = tmp_path / "trusted"
    (trusted / "o").mkdir(parents=True)
    (trusted / "o" / "lib.a").write_bytes(b"runtime")
    (trusted / ".casstore-warmed").write_text("{}\n")
    mine = zigcache.private_cache(trusted, tmp_path / "build" / "zig-cache")
    (mine / "o" / "lib.a").write_bytes(b"poisoned")
    assert (trusted / "o" / "lib.a").read_bytes() == b"runtime"
    assert not (mine / ".casstore-warmed").exists()
    (mine / "leftover").write_text("x")
    again = zigcache.private_cache(trusted, mine)  # a second build in the same root starts from the trusted copy
    assert sorted(p.name for p in again.rglob("*")) == ["lib.a", "o"]
    assert (again / "o" / "lib.a").read_bytes() == b"runtime"
