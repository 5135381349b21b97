"""The casstore command, run in-process through main() and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from casstore.cli.main import cli, main

from .conftest import make_sdist, make_wheel


@pytest.fixture
def dists(tmp_path: Path) -> Path:
    d = tmp_path / "dists"
    d.mkdir()
    for v in ("1.0", "1.1"):
        fn, data = make_wheel("alpha", v)
        (d / fn).write_bytes(data)
        fn, data = make_sdist("alpha", v)
        (d / fn).write_bytes(data)
    return d


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_every_command_has_help_text() -> None:
    for name, cmd in cli.commands.items():
        assert cmd.help and cmd.help.strip(), name


def test_put_ls_info_get_rm_gc_stats(tmp_path: Path, dists: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = str(tmp_path / "st")
    code, out, err = run(capsys, "--store", s, "put", str(dists), "--json")
    assert code == 0, err
    assert len(json.loads(out)) == 4
    code, out, _ = run(capsys, "--store", s, "ls", "--json", "--kind", "wheel")
    assert sorted(f["filename"] for f in json.loads(out)) == [
        "alpha-1.0-py3-none-any.whl", "alpha-1.1-py3-none-any.whl"]
    code, out, _ = run(capsys, "--store", s, "info", "alpha-1.0.tar.gz", "--json")
    meta = json.loads(out)
    assert meta["kind"] == "sdist" and meta["blake3"].startswith("blake3:")
    dest = tmp_path / "got"
    dest.mkdir()
    code, out, _ = run(capsys, "--store", s, "get", meta["blake3"], "-o", str(dest))
    assert code == 0
    assert (dest / "alpha-1.0.tar.gz").read_bytes() == (dists / "alpha-1.0.tar.gz").read_bytes()
    code, out, _ = run(capsys, "--store", s, "rm", "alpha-1.0.tar.gz")
    assert code == 0 and "removed" in out
    code, out, _ = run(capsys, "--store", s, "gc", "--grace", "-1", "--json")
    assert len(json.loads(out)["removed"]) == 1
    code, out, _ = run(capsys, "--store", s, "stats", "--json")
    st = json.loads(out)
    assert st["files"] == 3 and st["projects"][0]["project"] == "alpha"
    code, out, _ = run(capsys, "--store", s, "fsck", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_user_errors_are_one_line_and_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = str(tmp_path / "st")
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    code, out, err = run(capsys, "--store", s, "put", str(bad))
    assert code == 1
    assert err.strip().count("\n") == 0
    assert "notes.txt" in err and "Traceback" not in err
    code, _, err = run(capsys, "--store", s, "get", "nope-1.0.tar.gz")
    assert code == 1 and "nope-1.0.tar.gz" in err and err.count("\n") == 1
    code, _, err = run(capsys, "--store", s, "info", "blake3:zz")
    assert code == 1 and "Invalid digest" in err
    # nothing half-written: the store holds no file rows and no objects
    code, out, _ = run(capsys, "--store", s, "stats", "--json")
    assert json.loads(out)["files"] == 0


def test_refuses_directory_that_is_not_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "important.txt").write_text("keep me")
    code, _, err = run(capsys, "--store", str(tmp_path / "other"), "init")
    assert code == 1 and "not empty" in err
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["important.txt"]


def test_fsck_exit_status_reflects_damage(tmp_path: Path, dists: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = tmp_path / "st"
    run(capsys, "--store", str(s), "put", str(dists))
    victim = next((s / "objects").rglob("*"), None)
    victims = [p for p in (s / "objects").rglob("*") if p.is_file()]
    victims[0].unlink()
    code, out, _ = run(capsys, "--store", str(s), "fsck")
    assert code == 1 and "missing" in out and "DAMAGED" in out
    assert victim is not None


def test_cat_streams_to_stdout_in_a_real_process(tmp_path: Path, dists: Path) -> None:
    s = str(tmp_path / "st")
    subprocess.run([sys.executable, "-m", "casstore.cli", "--store", s, "put", str(dists)], check=True,
                   capture_output=True)
    r = subprocess.run([sys.executable, "-m", "casstore.cli", "--store", s, "cat", "alpha-1.1.tar.gz"],
                       capture_output=True, check=True)
    assert r.stdout == (dists / "alpha-1.1.tar.gz").read_bytes()


def test_cli_reference_documents_every_command() -> None:
    from casstore.cli.main import _load_plugins

    _load_plugins()
    doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    for name in cli.commands:
        assert f"`{name}" in doc, f"docs/cli.md does not document {name!r}"
