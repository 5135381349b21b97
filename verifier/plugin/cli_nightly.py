"""`casstore nightly` and `casstore report`: click commands registered through the `casstore.commands`
entry-point group. Thin: the library decides; this module parses options, shows progress, and turns
VerifierError into one line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..build.build import BuildSetup
from ..errors import VerifierError
from ..exec.detect import detect_sandbox
from ..nightly.nightly import (
    make_executor,
    make_report,
    run_nightly,
    sdists_from_requirements,
    sdists_from_store,
    write_report,
)
from ..nightly.render import human_bytes
from ..nightly.report import GRADES
from ..toolchain.targets import DEFAULT_TARGET
from .targetopt import TargetName

__all__ = ["nightly", "report"]

_runs_opt = click.option("--runs", "runs_dir", type=click.Path(file_okay=False, path_type=Path),
                         default=Path("nightly"), show_default=True, help="Directory of run directories (the history).")


def _pass_store(fn: Any) -> Any:
    from casstore.cli import (
        pass_store,  # the application layer: the verifier may use casstore, not vice versa
    )

    return pass_store(create=True)(fn)


def _select(store: Any, paths: Sequence[str], all_: bool, projects: Sequence[str], requirements: Path | None,
            cache: Path) -> list[Path]:
    chosen: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise VerifierError(f"no such sdist: {p!r}")
        chosen.append(path)
    if requirements is not None:
        chosen += sdists_from_requirements(store, requirements.read_text().splitlines(), cache / "downloads",
                                           say=lambda m: click.echo(f"fetched {m}", err=True))
    if all_ or projects:
        chosen += sdists_from_store(store, cache / "sdists", projects)
    if not chosen:
        raise VerifierError("nothing to verify: give sdist paths, --all, --project or --requirements")
    unique = {p.name: p for p in chosen}
    return [unique[n] for n in sorted(unique)]


@click.command()
@click.argument("sdists", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every sdist in the store.")
@click.option("--project", "projects", multiple=True, help="Every sdist of PROJECT in the store (repeatable).")
@click.option("-r", "--requirements", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Requirement lines (name==version...): the newest matching sdist of each, fetched into the store.")
@click.option("--target", "targets", multiple=True, type=TargetName(), default=[DEFAULT_TARGET],
              show_default=True, help="Target to verify for (repeatable): the matrix is sdists x targets.")
@_runs_opt
@click.option("--run", "run_name", help="Continue (or start) the run of this name [default: the latest unfinished, "
              "else a new one].")
@click.option("--new", is_flag=True, help="Start a new run even if the latest one is unfinished.")
@click.option("--force", is_flag=True, help="Rebuild even pairs with a current record in the store.")
@click.option("--scheduler", help="Dask scheduler address (tcp://HOST:PORT) [default: a local process pool].")
@click.option("-j", "--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Processes of the local pool.")
@click.option("--builds", type=click.IntRange(min=2), default=2, show_default=True, help="Builds per pair.")
@click.option("--wheelhouse", type=click.Path(file_okay=False, path_type=Path), default=Path(".cache/wheelhouse"),
              show_default=True, help="Local wheelhouse of build dependencies.")
@click.option("--zig-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A zig cache shared by the builds [default: per build].")
@click.option("--no-diffoscope", is_flag=True, help="Skip diffoscope reports.")
@click.option("--report/--no-report", "with_report", default=True, show_default=True,
              help="Write report.html/.md/.json into the run directory at the end.")
@_pass_store
def nightly(store: Any, sdists: tuple[str, ...], all_: bool, projects: tuple[str, ...], requirements: Path | None,
            targets: tuple[str, ...], runs_dir: Path, run_name: str | None, new: bool, force: bool,
            scheduler: str | None, workers: int, builds: int, wheelhouse: Path, zig_cache: Path | None,
            no_diffoscope: bool, with_report: bool) -> None:
    """Verify many sdists for a target matrix, resumably, and keep the night's results."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    try:
        paths = _select(store, sdists, all_, projects, requirements, runs_dir.absolute())
        executor, close = make_executor(scheduler, workers)
        counts = {g: 0 for g in GRADES}
        progress = Progress(TextColumn("[bold]nightly"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                            TimeElapsedColumn(), console=console)
        task = progress.add_task("", total=len(paths) * len(targets))

        def describe() -> str:
            return " ".join(f"{g} {n}" for g, n in counts.items() if n or g != "inconclusive")

        def on_plan(total: int, _done: int) -> None:
            progress.update(task, total=total)

        def on_done(rec: dict[str, Any], how: str) -> None:
            counts[rec["grade"]] = counts.get(rec["grade"], 0) + 1
            progress.update(task, advance=1, description=describe())
            if how in ("built", "error"):
                progress.console.print(f"{rec['recipe']['sdist_filename']} [{rec['recipe']['target']}]: "
                                       f"{rec['grade']} ({rec.get('seconds', 0):.0f} s)")

        try:
            with progress:
                result = run_nightly(
                    store, paths, targets, runs_dir=runs_dir, run=run_name, new=new, executor=executor, force=force,
                    setup=BuildSetup(sandbox=detect_sandbox(), wheelhouse=wheelhouse.absolute(),
                                     zig_cache=zig_cache.absolute() if zig_cache else None),
                    on_plan=on_plan, on_done=on_done, builds=builds, diffoscope=not no_diffoscope,
                )
        except KeyboardInterrupt:
            raise click.ClickException(f"interrupted; finished pairs are kept in {runs_dir}: run the same command "
                                       "again to continue") from None
        finally:
            close()
        click.echo(f"night {result.name}: {len(result.records)} pairs ({result.built} built, {result.resumed} resumed, "
                   f"{result.reused} reused, {result.errors} errors) in {result.seconds:.0f} s: {describe()}", err=True)
        if with_report:
            rep = make_report(store, runs_dir, run=result.name)
            out = write_report(rep, result.path)
            click.echo(f"report: {out[0]} (eviction could reclaim {human_bytes(rep.reclaimable.stored_bytes)})", err=True)
    except VerifierError as e:
        raise click.ClickException(str(e)) from None


@click.command()
@_runs_opt
@click.option("--run", "run_name", help="The night to report on [default: the latest].")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the report files [default: the run directory].")
@click.option("--format", "formats", multiple=True, type=click.Choice(["html", "md", "json"]),
              default=["html", "md", "json"], show_default=True, help="Formats to write (repeatable).")
@_pass_store
def report(store: Any, runs_dir: Path, run_name: str | None, output: Path | None, formats: tuple[str, ...]) -> None:
    """Write the reproducibility report of a night (HTML, Markdown, JSON), with the trend over the nights."""
    try:
        from ..nightly.nightly import list_runs

        runs = list_runs(runs_dir)
        if not runs:
            raise VerifierError(f"no nightly runs in {runs_dir}")
        name = run_name or runs[-1].name
        out_dir = output or runs_dir / name
        rep = make_report(store, runs_dir, run=name, out_dir=out_dir)
        for p in write_report(rep, out_dir, formats):
            click.echo(str(p))
        t = rep.totals
        click.echo(f"night {rep.night}: {t.total} pairs, " + ", ".join(
            f"{g} {t.count(g)} ({t.percent(g):.0f}%)" for g in GRADES) + f"; {len(rep.regressions)} regressions; "
            f"eviction could reclaim {human_bytes(rep.reclaimable.stored_bytes)}", err=True)
    except VerifierError as e:
        raise click.ClickException(str(e)) from None
