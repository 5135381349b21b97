"""benchmarks/coverage_bench.py's accounting, without network: per-OS bytes of one project's page and the
headline's coverage rules (universal2 needs both macOS targets, win32 never counts)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from packaging.version import Version

from casstore.index.pypi import RemoteFile

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("coverage_bench", BENCH)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _f(filename: str, size: int, version: str = "1.0", kind: str = "wheel", yanked: bool = False) -> RemoteFile:
    return RemoteFile(filename=filename, url=f"https://files.example/{filename}", sha256="0" * 64, size=size,
                      version=Version(version), kind=kind, yanked=yanked)


FILES = [
    _f("demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", 1),
    _f("demo-1.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", 2),
    _f("demo-1.0-cp311-cp311-manylinux1_i686.whl", 4),
    _f("demo-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", 8),
    _f("demo-1.0-cp311-cp311-macosx_10_9_x86_64.whl", 16),
    _f("demo-1.0-cp311-cp311-macosx_11_0_arm64.whl", 32),
    _f("demo-1.0-cp311-cp311-macosx_10_9_universal2.whl", 64),
    # two macOS tags in one file: counted once, under the first (x86_64)
    _f("demo-1.0-cp312-cp312-macosx_10_9_x86_64.macosx_11_0_arm64.whl", 128),
    _f("demo-1.0-cp311-cp311-win_amd64.whl", 256),
    _f("demo-1.0-cp311-cp311-win_arm64.whl", 512),
    _f("demo-1.0-cp311-cp311-win32.whl", 1024),
    _f("demo-1.0-cp313-cp313-ios_13_0_arm64_iphoneos.whl", 2048),
    _f("demo-1.0-py3-none-any.whl", 4096),
    _f("demo-1.0.tar.gz", 8192, kind="sdist"),
    _f("demo-2.0rc1.tar.gz", 1, version="2.0rc1", kind="sdist"),
]


def test_project_row_per_os(bench):
    row = bench.project_row("Demo", FILES)
    assert row["project"] == "demo"
    assert row["linux_bytes_by_arch"] == {"x86_64": 1, "aarch64": 2, "i686": 4, "musl_x86_64": 8}
    assert row["linux_bytes"] == 15
    assert row["macos_bytes_by_arch"] == {"x86_64": 16 + 128, "arm64": 32, "universal2": 64}
    assert row["windows_bytes_by_arch"] == {"amd64": 256, "arm64": 512, "win32": 1024}
    assert row["other_platform_bytes"] == 2048  # neither Linux, macOS nor Windows
    assert row["platform_bytes"] == 4095  # every platform wheel, no pure wheel, no sdist
    assert (row["latest_sdist"], row["latest_version"]) == ("demo-1.0.tar.gz", "1.0")


def test_project_row_none_without_platform_wheels(bench):
    assert bench.project_row("pure", [_f("pure-1.0-py3-none-any.whl", 5), _f("pure-1.0.tar.gz", 5, kind="sdist")]) \
        is None


def _results(grades: dict[str, str]) -> list[dict]:
    return [{"project": "demo", "version": "1.0", "target": t, "grade": g} for t, g in grades.items()]


LINUX = ("x86_64-linux-gnu.2.17", "aarch64-linux-gnu.2.17")


def test_headline_universal2_needs_both_macos_targets(bench):
    row = bench.project_row("demo", FILES)
    all_six = {"x86_64-linux-gnu.2.17": "reproducible", "aarch64-linux-gnu.2.17": "reproducible",
               "x86_64-macos": "reproducible", "aarch64-macos": "reproducible",
               "x86_64-windows": "reproducible", "aarch64-windows": "reproducible"}
    h = bench.headline([row], _results(all_six), LINUX)
    assert h["by_os"]["linux"] == {"bytes": 15, "reproducible_bytes": 3, "share_of_platform_bytes": 15 / 4095}
    assert h["by_os"]["macos"]["bytes"] == 240
    assert h["by_os"]["macos"]["reproducible_bytes"] == 16 + 128 + 32 + 64  # universal2 included
    assert h["by_os"]["windows"]["reproducible_bytes"] == 256 + 512  # win32 never
    assert h["by_os"]["other"]["reproducible_bytes"] == 0
    assert h["share_of_platform_bytes_by_arch"] == pytest.approx((3 + 240 + 768) / 4095)
    assert h["share_by_arch"] == pytest.approx(3 / 15)  # the Linux shares are unchanged

    one_mac = {**all_six, "aarch64-macos": "repeatable"}
    h = bench.headline([row], _results(one_mac), LINUX)
    assert h["by_os"]["macos"]["reproducible_bytes"] == 16 + 128  # x86_64 only: no arm64, no universal2

    no_arm_result = {k: v for k, v in all_six.items() if k != "aarch64-macos"}  # no result: not reproducible
    h = bench.headline([row], _results(no_arm_result), LINUX)
    assert h["by_os"]["macos"]["reproducible_bytes"] == 16 + 128
    assert h["targets_with_results"] == sorted(no_arm_result)


def test_headline_minimum_version_names_and_win32(bench):
    row = bench.project_row("demo", FILES)
    grades = {"x86_64-windows": "reproducible", "x86_64-macos.11.0": "reproducible",
              "aarch64-macos.11.0": "reproducible"}
    h = bench.headline([row], _results(grades), ("x86_64-windows",))
    assert h["projects_run"] == 1
    assert h["by_os"]["windows"]["reproducible_bytes"] == 256
    assert h["by_os"]["macos"]["reproducible_bytes"] == 240
    assert h["by_os"]["linux"]["reproducible_bytes"] == 0
    assert h["share_by_arch"] == 0.0  # no Linux target among those run: nothing Linux is looked up
    assert h["share_of_platform_bytes_by_arch"] == pytest.approx((256 + 240) / 4095)


def test_table_and_published_tag_matching(bench):
    row = bench.project_row("demo", FILES)
    md = bench.table([row], _results({"x86_64-windows": "reproducible"}), ("x86_64-windows",))
    assert "| demo 1.0 | 0.0 | 0.0 | 0.0 | 0.0 |  | reproducible |" in md
    assert bench._tag_fits("win_amd64", "x86_64-windows")
    assert not bench._tag_fits("win32", "x86_64-windows")
    assert bench._tag_fits("macosx_11_0_arm64", "aarch64-macos.11.0")
    assert not bench._tag_fits("macosx_10_9_universal2", "aarch64-macos")
    assert bench._tag_fits("manylinux_2_17_aarch64", "aarch64-linux-gnu.2.17")
    assert not bench._tag_fits("musllinux_1_2_aarch64", "aarch64-linux-gnu.2.17")
    assert bench._tag_fits("musllinux_1_2_x86_64", "x86_64-linux-musl")
