"""`casstore rebuild` and `casstore verify`: click commands registered from the application layer
through the `casstore.commands` entry-point group (casstore itself never imports the verifier).

Thin: every decision is the library's; this module parses options, prints, and turns VerifierError
into one line."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..build.build import REBUILD, BuildSetup
from ..errors import VerifierError
from ..exec.command import DEFAULT_TIMEOUT
from ..exec.detect import detect_sandbox
from ..exec.limits import DEFAULT_PROCESSES
from ..exec.sandbox import Bubblewrap, Sandbox
from ..grading.verification import keep_records
from ..grading.verification import rebuild as _rebuild
from ..grading.verification import verify as _verify
from ..record import VerificationRecord
from ..toolchain.pythons import HOST_PYTHON, PYTHONS
from ..toolchain.targets import DEFAULT_TARGET
from .targetopt import TargetName

__all__ = ["rebuild", "summary_rows", "verify"]

_target_opt = click.option(
    "--target", "targets", multiple=True, type=TargetName(), default=[DEFAULT_TARGET],
    show_default=True, help="Target to build for (repeatable).",
)
_workdir_opt = click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cache/rebuild"),
                            show_default=True, help="Where builds run and logs stay.")
_python_opt = click.option(
    "--python", "python", type=click.Choice(sorted(PYTHONS)), default=None,
    help=f"CPython version to build for (another than the host's comes from Debian packages) [default: "
         f"{HOST_PYTHON} if the sdist's Requires-Python allows it, else the newest it allows].",
)
_wheelhouse_opt = click.option("--wheelhouse", type=click.Path(file_okay=False, path_type=Path), default=None,
                               help="Local wheelhouse of build dependencies [default: .cache/wheelhouse].")
_timeout_opt = click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
                            help="Seconds a build (and the sdist's requirements hook) may run before it is killed; "
                                 "a timed-out build is graded inconclusive.")
_processes_opt = click.option("--max-processes", "processes", type=click.IntRange(min=8), default=DEFAULT_PROCESSES,
                              show_default=True, help="Processes and threads one build may have at once.")


def _sandbox() -> Sandbox:
    """The best sandbox here; a fallback is said out loud (the records say it too)."""
    sb = detect_sandbox()
    if not isinstance(sb, Bubblewrap):
        click.echo(f"warning: builds are not confined by bubblewrap: sandbox {sb.name}", err=True)
    return sb


def _pass_store(fn: Any) -> Any:
    from casstore.cli import (
        pass_store,  # the application layer: the verifier may use casstore, not vice versa
    )

    return pass_store(create=True)(fn)


def _log_tail(path: str | None, lines: int = 25) -> str:
    if not path or not Path(path).is_file():
        return ""
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def summary_rows(records: Sequence[VerificationRecord]) -> list[tuple[str, str, str, str, str]]:
    """(sdist, "target python-tag", grade, seconds, why) per record: what the summary table shows."""
    rows = []
    for r in records:
        why = "; ".join(r.explanation.causes) if r.explanation and r.explanation.causes else "; ".join(r.reasons)
        rows.append((r.recipe.sdist_filename, f"{r.recipe.target} {r.recipe.python_tag}", r.grade, f"{r.seconds:.1f}",
                     why))
    return rows


@click.command()
@click.argument("sdist")
@_target_opt
@_workdir_opt
@_wheelhouse_opt
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory for the rebuilt wheels.")
@click.option("--put", is_flag=True, help="Also store the rebuilt wheels.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_timeout_opt
@_processes_opt
@_python_opt
@_pass_store
def rebuild(store: Any, sdist: str, targets: tuple[str, ...], workdir: Path, wheelhouse: Path | None, output: Path,
            put: bool, as_json: bool, timeout: float, processes: int, python: str | None) -> None:
    """Rebuild wheels of SDIST (a path, or a filename or digest in the store) with Zig."""
    results = []
    setup = BuildSetup(sandbox=_sandbox(), wheelhouse=wheelhouse, timeout=timeout, processes=processes)
    try:
        for t in targets:
            click.echo(f"rebuilding {sdist} for {t}...", err=True)
            recipe, res = _rebuild(sdist, t, workdir=workdir / t, store=store, variation=REBUILD, setup=setup,
                                   python=python)
            entry: dict[str, Any] = {"target": t, "recipe": recipe.to_json(), "recipe_digest": recipe.digest,
                                     "ok": res.ok, "failure": res.failure, "log": str(res.log),
                                     "seconds": round(res.seconds, 3), "sandbox": res.sandbox,
                                     "limits": res.limits}
            if res.ok and res.wheel is not None:
                output.mkdir(parents=True, exist_ok=True)
                dest = output / res.wheel.name
                dest.write_bytes(res.wheel.read_bytes())
                entry.update(wheel=str(dest), sha256=res.sha256, blake3=res.blake3)
                if put:
                    store.put(dest)
                click.echo(f"{dest} {res.blake3} ({res.seconds:.1f} s)", err=as_json)
            else:
                click.echo(f"{t}: {res.failure}\n{_log_tail(str(res.log))}\nfull log: {res.log}", err=True)
            results.append(entry)
    except VerifierError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(results, indent=2))
    if not all(r["ok"] for r in results):
        sys.exit(1)


@click.command()
@click.argument("sdists", nargs=-1, required=True)
@_target_opt
@click.option("--builds", type=click.IntRange(min=2), default=2, show_default=True, help="Builds per target.")
@_workdir_opt
@_wheelhouse_opt
@click.option("--no-diffoscope", is_flag=True, help="Skip diffoscope reports.")
@click.option("--json", "as_json", is_flag=True, help="Print the verification records as JSON.")
@_timeout_opt
@_processes_opt
@_python_opt
@_pass_store
def verify(store: Any, sdists: tuple[str, ...], targets: tuple[str, ...], builds: int, workdir: Path,
           wheelhouse: Path | None, no_diffoscope: bool, as_json: bool, timeout: float, processes: int,
           python: str | None) -> None:
    """Build each SDIST several times per target under varied conditions and grade it."""
    records: list[VerificationRecord] = []
    setup = BuildSetup(sandbox=_sandbox(), wheelhouse=wheelhouse, timeout=timeout, processes=processes)
    try:
        for i, sdist in enumerate(sdists):
            records += _verify(sdist, targets, builds=builds, workdir=workdir / f"verify-{i}", store=store,
                               setup=setup, diffoscope=not no_diffoscope, python=python,
                               progress=lambda m: click.echo(m, err=True))
    except VerifierError as e:
        raise click.ClickException(str(e)) from None
    except FileNotFoundError as e:  # an sdist (or a file of the run) removed while it ran: one line, no records
        raise click.ClickException(f"{e.filename or e}: gone while it was being verified ({e.strerror})") from None
    stored = keep_records(store, records)
    for r in records:
        for b in r.builds:
            if not b.ok:
                click.echo(f"{r.recipe.sdist_filename} [{b.variation}]: {b.failure}\n{_log_tail(b.log_path)}\n"
                           f"full log: {b.log_path}", err=True)
    if as_json:
        click.echo(json.dumps([dict(r.to_json(), record_blake3=d) for r, d in zip(records, stored)], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("sdist", "target", "grade", "seconds", "why", "record")
    for row, d in zip(summary_rows(records), stored):
        table.add_row(*row, d[:19])
    Console().print(table)
