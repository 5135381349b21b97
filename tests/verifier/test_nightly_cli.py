"""`casstore nightly` and `casstore report` through the CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from verifier import report_from_json
from verifier.nightly.nightly import RUN_SCHEMA
from verifier.plugin import cli_nightly

from . import sdists
from .records import make_record

casstore_cli = pytest.importorskip("casstore.cli")
X86 = "x86_64-linux-gnu.2.17"


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    group = casstore_cli.cli
    group.add_command(cli_nightly.nightly, "nightly")
    group.add_command(cli_nightly.report, "report")
    return group


def test_commands_have_help() -> None:
    for cmd in (cli_nightly.nightly, cli_nightly.report):
        assert cmd.help and cmd.help.strip()


def _night(runs: Path, name: str, records: list[dict]) -> None:
    d = runs / name
    (d / "records").mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"schema": RUN_SCHEMA, "name": name, "finished": "x", "targets": [X86]}))
    for i, r in enumerate(records):
        (d / "records" / f"{i}.json").write_text(json.dumps(r))


def test_report_of_saved_nights(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runs = tmp_path / "runs"
    _night(runs, "2026-11-19T010000Z", [make_record("foo-1.0.tar.gz"), make_record("bar-1.0.tar.gz")])
    _night(runs, "2026-11-20T010000Z", [make_record("foo-1.0.tar.gz", grade="broken"), make_record("bar-1.0.tar.gz")])
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "store"), "report", "--runs", str(runs), "-o",
                                 str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report.json", "report.md"]
    rep = report_from_json((tmp_path / "out" / "report.json").read_text())
    assert rep.night == "2026-11-20T010000Z" and len(rep.trend) == 2
    assert rep.totals.counts["broken"] == 1
    assert "night 2026-11-20T010000Z: 2 pairs, reproducible 1 (50%)" in r.stderr
    # an earlier night by name, Markdown only, into its own directory
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "store"), "report", "--runs", str(runs), "--run",
                                 "2026-11-19T010000Z", "--format", "md"])
    assert r.exit_code == 0, r.output
    assert (runs / "2026-11-19T010000Z" / "report.md").is_file()


def test_report_without_runs_is_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "store"), "report", "--runs", str(tmp_path / "none")])
    assert r.exit_code == 1 and "no nightly runs" in r.output


def test_nightly_needs_something_to_verify(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "store"), "nightly", "--runs", str(tmp_path / "runs")])
    assert r.exit_code == 1 and "nothing to verify" in r.output


@pytest.mark.slow
def test_nightly_from_the_store_then_report(cli, tmp_path: Path, wheelhouse: Path, zig_cache: Path) -> None:  # type: ignore[no-untyped-def]
    store = str(tmp_path / "store")
    sd = sdists.c_sdist(tmp_path, name="tinynight")
    assert CliRunner().invoke(cli, ["--store", store, "put", str(sd)]).exit_code == 0
    runs = tmp_path / "runs"
    args = ["--store", store, "nightly", "--project", "tinynight", "--runs", str(runs), "--wheelhouse", str(wheelhouse),
            "--zig-cache", str(zig_cache), "--no-diffoscope", "-j", "1"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "1 pairs (1 built, 0 resumed, 0 reused, 0 errors)" in r.stderr
    (night,) = [p for p in runs.iterdir() if (p / "run.json").is_file()]
    assert (night / "report.html").is_file()
    assert report_from_json((night / "report.json").read_text()).totals.counts["reproducible"] == 1
    r = CliRunner().invoke(cli, [*args, "--new"])  # a second night reuses the current record
    assert r.exit_code == 0, r.output
    assert "1 pairs (0 built, 0 resumed, 1 reused, 0 errors)" in r.stderr


def test_commands_are_registered_as_entry_points() -> None:
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="casstore.commands")}
    assert eps.get("nightly") == "verifier.plugin.cli_nightly:nightly"
    assert eps.get("report") == "verifier.plugin.cli_nightly:report"
