"""The click commands the casstore CLI registers through the `casstore.commands` entry points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from verifier.plugin import cli as vcli

from . import sdists

casstore_cli = pytest.importorskip("casstore.cli")


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    group = casstore_cli.cli
    group.add_command(vcli.rebuild, "rebuild")
    group.add_command(vcli.verify, "verify")
    return group


def test_commands_have_help() -> None:
    for cmd in (vcli.rebuild, vcli.verify):
        assert cmd.help and cmd.help.strip()


@pytest.mark.slow
def test_verify_json_and_rebuild(cli, tmp_path: Path, wheelhouse: Path) -> None:  # type: ignore[no-untyped-def]
    sd = sdists.c_sdist(tmp_path, name="tinycli")
    store = tmp_path / "store"
    r = CliRunner().invoke(cli, ["--store", str(store), "verify", str(sd), "--json", "--workdir", str(tmp_path / "w"),
                                 "--wheelhouse", str(wheelhouse)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout[r.stdout.index("[") :])
    assert data[0]["grade"] == "reproducible" and data[0]["record_blake3"].startswith("blake3:")
    r = CliRunner().invoke(cli, ["--store", str(store), "rebuild", str(sd), "-o", str(tmp_path / "out"),
                                 "--workdir", str(tmp_path / "w2"), "--wheelhouse", str(wheelhouse), "--put"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "tinycli-0.1-cp311-cp311-manylinux_2_17_x86_64.whl").is_file()


@pytest.mark.slow
def test_failing_build_prints_log_tail(cli, tmp_path: Path, wheelhouse: Path) -> None:  # type: ignore[no-untyped-def]
    sd = sdists.broken_sdist(tmp_path)
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "rebuild", str(sd), "--workdir", str(tmp_path / "w"),
                                 "--wheelhouse", str(wheelhouse)])
    assert r.exit_code == 1
    assert "error" in r.output and "full log:" in r.output


def test_unknown_sdist_is_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "rebuild", "nope-1.0.tar.gz"])
    assert r.exit_code == 1
    assert "nope-1.0.tar.gz" in r.output and "Traceback" not in r.output


def test_an_sdist_removed_during_the_run_is_a_one_line_error(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from verifier.grading import verification

    sd = sdists.c_sdist(tmp_path, name="tinygone")
    real = verification.make_recipe

    def remove_then_recipe(sdist, *a, **kw):  # type: ignore[no-untyped-def]
        Path(sdist).unlink()  # what a concurrent cleanup does between the start and the first hash
        return real(sdist, *a, **kw)

    monkeypatch.setattr(verification, "make_recipe", remove_then_recipe)
    store = tmp_path / "store"
    r = CliRunner().invoke(cli, ["--store", str(store), "verify", str(sd), "--workdir", str(tmp_path / "w")])
    assert r.exit_code == 1, r.output
    assert r.output.strip().splitlines()[-1] == f"Error: {sd}: gone while it was being verified (No such file or directory)"
    assert "Traceback" not in r.output
