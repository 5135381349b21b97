"""A second CPython version: 3.13 from Debian 13 ("trixie") packages, fetched by the code into
.cache/sysroots/trixie-<arch>/ (private apt state and sources.list). Its interpreter runs the build (through
the sysroot's own loader: trixie's libc is newer than this host's), its headers and sysconfig are the
target's, and the result is imported by trixie's python3.13 for the target (under qemu for aarch64)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from verifier import PYTHONS, TARGETS, BuildSetup, InvalidPython, Recipe, VerifierError, get_python, verify
from verifier.build.build import _build_python
from verifier.build.smoke import smoke_test, sysroot_smoke_test
from verifier.exec.command import run
from verifier.toolchain.sysroot import ensure_sysroot

from .conftest import CACHE
from .pypi import fetch_sdist

SYSROOTS = CACHE / "sysroots"


def test_versions_are_data() -> None:
    py = get_python("3.13")
    assert (py.tag, py.nodot, py.suite) == ("cp313", "313", "trixie")
    assert py.packages[:4] == ("python3.13-minimal", "libpython3.13-minimal", "libpython3.13-stdlib",
                               "libpython3.13-dev")
    assert py.sysroot_key("arm64") == "trixie-arm64"
    assert get_python("3.11").sysroot_key("arm64") == "arm64"  # the host's suite keeps the old cache layout
    assert TARGETS["x86_64-linux-gnu.2.17"].ext_suffix(py.nodot) == ".cpython-313-x86_64-linux-gnu.so"
    assert set(PYTHONS) >= {"3.11", "3.13"}


def test_unknown_version_names_it_and_the_known_ones() -> None:
    with pytest.raises(InvalidPython, match=r"'2\.7'.*3\.11, 3\.13") as e:
        get_python("2.7")
    assert isinstance(e.value, VerifierError)


def test_host_recipes_keep_their_json_and_digest() -> None:
    r = Recipe("a-1.tar.gz", "0" * 64, "blake3:" + "0" * 64, "x86_64-linux-gnu.2.17", "cpython-3.11.7", "cp311",
               "0.17.1", (), 0)
    assert "build_python" not in r.to_json()
    other = Recipe(**{**r.__dict__, "build_python": "debian:python3.13-minimal_3.13.5-2_amd64.deb"})
    assert other.to_json()["build_python"].startswith("debian:") and other.digest != r.digest
    assert Recipe.from_json(other.to_json()) == other


@pytest.mark.slow
def test_trixie_python_runs_here_through_its_own_loader(tmp_path: Path) -> None:
    base = _build_python(get_python("3.13"), SYSROOTS)
    assert base is not None and base.root == SYSROOTS.absolute() / "trixie-amd64" / "root"
    assert base.deb("libc6").startswith("libc6_2.4")  # newer than this host's 2.36: not runnable directly
    launcher = base.write_launcher(tmp_path / "python3.13")
    r = run([str(launcher), "-c", "import sys, ssl, sqlite3; print(sys.version_info[:2], sys.prefix)"],
            cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, timeout=120)
    assert r.ok, r.output
    assert f"(3, 13) {base.root / 'usr'}" in r.output


@pytest.mark.slow
@pytest.mark.parametrize(("target", "builds"), [("x86_64-linux-gnu.2.17", 2), ("aarch64-linux-gnu.2.17", 1)])
def test_markupsafe_cp313(target, builds, tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    if "aarch64" in target and shutil.which("qemu-aarch64-static") is None:
        pytest.skip("Debian package qemu-user-static missing")
    t = TARGETS[target]
    sdist = fetch_sdist("markupsafe", "2.1.5", CACHE)
    (rec,) = verify(sdist, [target], workdir=tmp_path / "work",
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, sysroots=SYSROOTS),
                    variations=warm_variations[:builds], diffoscope=False, python="3.13")
    assert rec.grade == "reproducible", (rec.reasons, rec.explanation)
    r = rec.recipe
    assert (r.python_tag, r.python.startswith("cpython-3.13.")) == ("cp313", True)
    assert r.build_python.startswith("debian:python3.13-minimal_") and r.build_python.endswith("_amd64.deb")
    assert r.target_headers.startswith("debian:libpython3.13-dev_")
    assert r.target_headers.endswith(f"_{t.debian_arch}.deb")
    b = rec.builds[0]
    assert (b.wheel_filename or "").lower() == f"markupsafe-2.1.5-cp313-cp313-manylinux_2_17_{t.arch}.whl"
    assert b.ext_modules == ["markupsafe._speedups"]
    assert b.auditwheel_policy == f"manylinux_2_17_{t.arch}"
    assert b.smoke == "ok"
    log = Path(b.log_path or "").read_text()
    assert "OK markupsafe._speedups" in log
    smoke_cmd = next(line for line in log.splitlines() if line.startswith("$ ") and " -s -c" in line)
    assert f"sysroots/trixie-{t.debian_arch}/root/usr/bin/python3.13 -s -c" in smoke_cmd
    assert ("qemu-aarch64-static" in smoke_cmd) == (t.arch == "aarch64")
    wheel = Path(b.log_path or "").parents[1] / "out" / (b.wheel_filename or "")
    with zipfile.ZipFile(wheel) as zf:
        assert f"markupsafe/_speedups.cpython-313-{t.multiarch}.so" in zf.namelist()
    if t.arch == "x86_64":  # the module is CPython 3.13's: the host's 3.11 does not even find it
        res = smoke_test(wheel, b.ext_modules, tmp_path / "host-smoke", sandbox=sandbox, log=tmp_path / "h.log")
        assert res.startswith(("import failed", "wheel does not install"))


@pytest.mark.slow
def test_a_cp311_module_does_not_import_on_trixie_python(tmp_path, wheelhouse, zig_cache, sandbox,
                                                         warm_variations) -> None:
    """The sysroot smoke test is a real check: 3.13 rejects a 3.11 extension module (another suffix)."""
    sdist = fetch_sdist("markupsafe", "2.1.5", CACHE)
    (rec,) = verify(sdist, ["x86_64-linux-gnu.2.17"], workdir=tmp_path / "work",
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache),
                    variations=warm_variations[:1], diffoscope=False)
    b = rec.builds[0]
    assert rec.recipe.python_tag == "cp311" and "build_python" not in rec.recipe.to_json()
    wheel = Path(b.log_path or "").parents[1] / "out" / (b.wheel_filename or "")
    base = ensure_sysroot(TARGETS["x86_64-linux-gnu.2.17"], SYSROOTS, "3.13")
    res = sysroot_smoke_test(wheel, b.ext_modules, tmp_path / "smoke", python=base.native_argv(), label="ld.so",
                             sandbox=sandbox, log=tmp_path / "smoke.log")
    assert res.startswith("import failed under ld.so") and "markupsafe._speedups" in res


def test_riscv64_row_and_which_python_has_it(tmp_path: Path) -> None:
    t = TARGETS["riscv64-linux-gnu.2.31"]
    assert (t.platform_tag, t.debian_arch, t.qemu) == ("manylinux_2_31_riscv64", "riscv64", "qemu-riscv64-static")
    assert get_python("3.13").has_arch("riscv64") and not get_python("3.11").has_arch("riscv64")
    with pytest.raises(VerifierError, match="no CPython 3.11 for riscv64"):
        ensure_sysroot(t, tmp_path, "3.11")
    assert not list(tmp_path.iterdir())  # refused before anything was fetched or written


@pytest.mark.slow
def test_riscv64_cp313_imports_under_qemu(tmp_path, wheelhouse, zig_cache, sandbox, warm_variations) -> None:
    if shutil.which("qemu-riscv64-static") is None:
        pytest.skip("Debian package qemu-user-static missing")
    sdist = fetch_sdist("markupsafe", "2.1.5", CACHE)
    (rec,) = verify(sdist, ["riscv64-linux-gnu.2.31"], workdir=tmp_path / "work",
                    setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, sysroots=SYSROOTS),
                    variations=warm_variations[:1], diffoscope=False, python="3.13")
    assert rec.grade == "reproducible", (rec.reasons, rec.explanation)
    b = rec.builds[0]
    assert (b.wheel_filename or "").lower() == "markupsafe-2.1.5-cp313-cp313-manylinux_2_31_riscv64.whl"
    assert b.auditwheel_policy == "manylinux_2_31_riscv64" and b.smoke == "ok"
    assert rec.recipe.target_headers.endswith("_riscv64.deb")
    assert "qemu-riscv64-static" in Path(b.log_path or "").read_text()


def test_cli_refuses_an_unknown_python_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from verifier.plugin import cli as vcli

    r = CliRunner().invoke(vcli.rebuild, ["x.tar.gz", "--python", "2.7", "--workdir", str(tmp_path)])
    assert r.exit_code == 2 and "'2.7' is not one of '3.11', '3.13'" in r.output and "Traceback" not in r.output
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_cli_rebuild_for_cp313(tmp_path: Path, wheelhouse: Path) -> None:
    import json

    from click.testing import CliRunner

    casstore_cli = pytest.importorskip("casstore.cli")
    from verifier.plugin import cli as vcli

    group = casstore_cli.cli
    group.add_command(vcli.rebuild, "rebuild")
    sdist = fetch_sdist("markupsafe", "2.1.5", CACHE)
    r = CliRunner().invoke(group, ["--store", str(tmp_path / "store"), "rebuild", str(sdist), "--python", "3.13",
                                   "--json", "-o", str(tmp_path / "out"), "--workdir", str(tmp_path / "w"),
                                   "--wheelhouse", str(wheelhouse)])
    assert r.exit_code == 0, r.output
    (entry,) = json.loads(r.stdout[r.stdout.index("[") :])
    assert entry["recipe"]["python_tag"] == "cp313" and entry["recipe"]["build_python"].startswith("debian:python3.13")
    assert Path(entry["wheel"]).name.lower() == "markupsafe-2.1.5-cp313-cp313-manylinux_2_17_x86_64.whl"


def test_report_keeps_a_row_per_target_and_python() -> None:
    from verifier import Night, build_report

    from .records import make_record

    host = make_record("zap-1.0.tar.gz", "aarch64-linux-gnu.2.17")
    other = make_record("zap-1.0.tar.gz", "aarch64-linux-gnu.2.17", "broken", recipe="blake3:" + "3" * 64)
    other["recipe"].update(python_tag="cp313", python="cpython-3.13.5",
                           build_python="debian:python3.13-minimal_3.13.5-2+deb13u5_amd64.deb")
    r = build_report([Night("n1", [host, other])], generated="now")
    assert sorted((w.target, w.grade) for w in r.rows) == [
        ("aarch64-linux-gnu.2.17", "reproducible"), ("aarch64-linux-gnu.2.17 cp313", "broken")]
    assert {t.label for t in r.by_target} == {"aarch64-linux-gnu.2.17", "aarch64-linux-gnu.2.17 cp313"}
    assert other["recipe"]["target"] == "aarch64-linux-gnu.2.17"  # the input records are not changed
