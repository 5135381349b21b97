"""Nightly runs: a set of sdists times a target matrix, verified on any `concurrent.futures.Executor`
(a local process pool by default, a Dask cluster's `client.get_executor()` when scaled out).

A run is a directory (``<runs>/<name>/``): ``run.json`` says what it is for, ``records/`` holds one
verification record per finished (sdist, target) pair, written the moment the pair finishes (and kept in
the store's catalog at the same moment). A killed run continues where it stopped: pairs with a record in
the run directory are not built again. Pairs whose recipe inputs already have a current record in the
store are not built either (the record is copied into the night) unless `force`. The run directories
are the history of nights that the report's trend and regressions read.

The decisions (what is current, what is left to do) are pure functions; `run_nightly` does the I/O."""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from casstore import hash_file

from ..build.build import BuildSetup, python_tag
from ..errors import VerifierError
from ..grading.batch import local_pool
from ..grading.verification import verify
from ..toolchain.targets import get_target
from ..toolchain.zig import ZIG_VERSION
from .report import Night, Report, build_report

__all__ = [
    "RUN_SCHEMA",
    "Job",
    "NightlyRun",
    "is_current",
    "list_runs",
    "load_nights",
    "make_executor",
    "make_report",
    "run_nightly",
    "sdists_from_requirements",
    "sdists_from_store",
    "write_report",
]

RUN_SCHEMA = "casstore.nightly/1"

Clock = Callable[[], datetime.datetime]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Job:
    sdist: Path
    target: str

    @property
    def key(self) -> str:
        return f"{self.sdist.name}@{self.target}"


@dataclass
class NightlyRun:
    """What a call of `run_nightly` did. `records` holds every pair of the night (built now, built by an
    earlier attempt of this run, or reused from the store), in completion order."""

    name: str
    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    built: int = 0
    resumed: int = 0  # pairs finished by an earlier, interrupted attempt of this run
    reused: int = 0  # pairs with a current record in the store
    errors: int = 0  # pairs whose job raised (infrastructure): kept as inconclusive, retried on resume
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.records:
            out[r["grade"]] = out.get(r["grade"], 0) + 1
        return out


# --- pure decisions --------------------------------------------------------------------------------

def environment() -> dict[str, str]:
    """What a record must agree with to be current here: the toolchain and the interpreter."""
    return {"zig_version": ZIG_VERSION, "python_tag": python_tag(),
            "python": f"{platform.python_implementation().lower()}-{platform.python_version()}"}


def is_current(record: Mapping[str, Any], sdist_blake3: str, target: str, env: Mapping[str, str],
               wheelhouse: Callable[[str], bool] = lambda _f: True) -> bool:
    """Whether `record` still says what a rebuild now would: same sdist bytes, target, toolchain and
    interpreter, every pinned build dependency still available (`wheelhouse(filename)`), and a real
    grade (inconclusive is always retried)."""
    recipe = record.get("recipe") or {}
    return (
        record.get("grade") in ("reproducible", "repeatable", "broken")
        and recipe.get("sdist_blake3") == sdist_blake3
        and recipe.get("target") == target
        and all(recipe.get(k) == v for k, v in env.items())
        and all(wheelhouse(str(p.get("filename"))) for p in recipe.get("build_deps") or [])
    )


def _error_record(job: Job, sdist_blake3: str, exc: BaseException, started: str) -> dict[str, Any]:
    """An inconclusive record for a job that raised: the night shows it; the store does not keep it."""
    from ..record import RECORD_SCHEMA

    return {
        "schema": RECORD_SCHEMA, "nightly_error": True,
        "recipe": {"sdist_filename": job.sdist.name, "sdist_blake3": sdist_blake3, "target": job.target,
                   "build_deps": []},
        "recipe_digest": f"none:{job.key}", "grade": "inconclusive",
        "reasons": [f"{type(exc).__name__}: {exc}"], "builds": [], "explanation": None, "published": None,
        "seconds": 0.0, "started": started,
    }


# --- run directories -------------------------------------------------------------------------------

def _write_json(path: Path, data: Any) -> None:
    """Atomically: a killed run never leaves half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_run(path: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((path / "run.json").read_text())
    if meta.get("schema") != RUN_SCHEMA:
        raise VerifierError(f"not a nightly run directory: {path} (schema {meta.get('schema')!r})")
    return meta


def _run_records(path: Path) -> list[dict[str, Any]]:
    recs = [json.loads(p.read_text()) for p in (path / "records").glob("*.json")]
    return sorted(recs, key=lambda r: (str(r.get("finished", r.get("started", ""))), r["recipe"]["sdist_filename"]))


def list_runs(runs_dir: Path) -> list[Path]:
    """Run directories, oldest first: by the start time in run.json, then by name (default names are UTC
    timestamps, so they sort by time too)."""
    if not runs_dir.is_dir():
        return []
    runs = [p for p in runs_dir.iterdir() if (p / "run.json").is_file()]
    return sorted(runs, key=lambda p: (str(_read_run(p).get("started") or ""), p.name))


def load_nights(runs_dir: Path, upto: str | None = None) -> list[Night]:
    """Every night's records, oldest first; with `upto`, the nights up to and including that run."""
    nights = []
    for p in list_runs(runs_dir):
        nights.append(Night(p.name, _run_records(p)))
        if p.name == upto:
            break
    else:
        if upto is not None:
            raise VerifierError(f"no run {upto!r} in {runs_dir}")
    return nights


def _choose_run(runs_dir: Path, name: str | None, new: bool, clock: Clock) -> tuple[Path, bool]:
    """(run directory, whether it exists already): the named run, else the latest unfinished one, else new."""
    if name is not None:
        return runs_dir / name, (runs_dir / name / "run.json").is_file()
    if not new:
        unfinished = [p for p in list_runs(runs_dir) if not _read_run(p).get("finished")]
        if unfinished:
            return unfinished[-1], True
    return runs_dir / clock().strftime("%Y-%m-%dT%H%M%SZ"), False


# --- selecting sdists ------------------------------------------------------------------------------

def sdists_from_store(store: Any, dest: Path, projects: Iterable[str] = ()) -> list[Path]:
    """Every sdist in the store (or of `projects`), exported (verified by the store) into `dest`."""
    wanted = list(projects)
    files = [f for p in wanted for f in store.ls(project=p, kind="sdist")] if wanted else store.ls(kind="sdist")
    if wanted and not files:
        raise VerifierError(f"no sdists of {', '.join(map(repr, wanted))} in the store")
    out = []
    for f in sorted(files, key=lambda f: f.filename):
        path = dest / f.filename
        if not path.is_file() or str(hash_file(path).digest()) != str(f.blake3):
            dest.mkdir(parents=True, exist_ok=True)
            store.export(f.filename, path)
        out.append(path)
    return out


def sdists_from_requirements(store: Any, lines: Iterable[str], dest: Path,
                             say: Callable[[str], None] = lambda _m: None) -> list[Path]:
    """Requirement-style lines (``msgpack==1.1.0``, ``ujson>=5``; ``#`` comments): the newest matching sdist
    of each from PyPI, downloaded into `dest` (sha256-checked, cached) and put into the store."""
    from casstore.index import (
        pypi as _pypi,  # the application layer may use casstore; casstore never imports us
    )

    out = []
    for line in lines:
        spec = line.split("#", 1)[0].strip()
        if not spec or spec.startswith("-"):
            continue
        try:
            name = Requirement(spec).name
        except InvalidRequirement as e:
            raise VerifierError(f"invalid requirement {spec!r}: {e}") from e
        files = _pypi.select(_pypi.list_files(name), spec, latest=1, kinds=("sdist",))
        if not files:
            raise VerifierError(f"no sdist on PyPI matches {spec!r}")
        path = _pypi.download(files[-1], dest)
        if not store.has(path.name):
            store.put(path)
        say(f"{spec}: {path.name}")
        out.append(path)
    return out


# --- executors -------------------------------------------------------------------------------------

def make_executor(scheduler: str | None = None, workers: int = 2) -> tuple[concurrent.futures.Executor, Callable[[], None]]:
    """(executor, close): a local process pool, or a Dask cluster's executor at `scheduler`
    (``tcp://HOST:PORT``). Nothing else differs between the two."""
    if scheduler is None:
        pool = local_pool(workers)
        return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)
    try:
        from distributed import Client
    except ImportError as e:
        raise VerifierError("a Dask scheduler needs the `distributed` package (pip install 'dask[distributed]')") from e
    client = Client(scheduler, timeout=30)  # type: ignore[no-untyped-call]
    ex = client.get_executor()  # type: ignore[no-untyped-call]

    def close() -> None:  # a finished run has consumed every future; an interrupted one drops the rest
        ex.shutdown(wait=False)
        client.close()  # type: ignore[no-untyped-call]

    return ex, close


# --- the run ---------------------------------------------------------------------------------------

def _keep_files(store: Any, record: dict[str, Any]) -> None:
    """Build logs and diffoscope output into the store as blobs (the records name them by digest)."""
    for b in record.get("builds") or []:
        if not b.get("log_blake3") and b.get("log_path") and Path(b["log_path"]).is_file():
            b["log_blake3"] = str(store.put_blob(Path(b["log_path"]).read_bytes()))
    exp = record.get("explanation") or {}
    if exp and not exp.get("diffoscope_blake3") and exp.get("diffoscope_path") and Path(exp["diffoscope_path"]).is_file():
        exp["diffoscope_blake3"] = str(store.put_blob(Path(exp["diffoscope_path"]).read_bytes()))


def _keep_wheel(store: Any, record: Mapping[str, Any], workdir: Path, wheelhouse: Path) -> str | None:
    """Put a reproducible pair's rebuilt wheel (origin "rebuilt") and its pinned build dependencies into the
    store, so that eviction may use them; returns why not, or None. Needs the worker's files here."""
    from casstore import CasstoreError

    from ..build.wheelhouse import keep_build_deps
    from ..record import Recipe
    from .build_all import keep_rebuilt_wheel

    name = next((b.get("wheel_filename") for b in record.get("builds") or [] if b.get("wheel_filename")), None)
    found = next(iter(sorted(workdir.rglob(name))), None) if name else None
    if found is None:
        return f"rebuilt wheel {name!r} not found under {workdir}"
    try:
        keep_rebuilt_wheel(store, found, str(next(b.get("wheel_blake3") for b in record.get("builds") or []
                                                  if b.get("wheel_filename") == name)))
        keep_build_deps(store, Recipe.from_json(dict(record["recipe"])), wheelhouse)
    except (CasstoreError, OSError) as e:
        return f"cannot keep {found.name}: {e}"
    return None


def run_nightly(
    store: Any,
    sdists: Sequence[Path],
    targets: Sequence[str],
    *,
    runs_dir: Path,
    run: str | None = None,
    new: bool = False,
    executor: concurrent.futures.Executor | None = None,
    force: bool = False,
    keep_wheels: bool = True,
    setup: BuildSetup = BuildSetup(),  # noqa: B008 (frozen: one shared default is safe)
    clock: Clock = _utcnow,
    on_plan: Callable[[int, int], None] | None = None,
    on_done: Callable[[dict[str, Any], str], None] | None = None,
    **verify_kw: Any,
) -> NightlyRun:
    """Verify every (sdist, target) pair, keeping each record in the store and the run directory as it
    finishes. `run` names the run to continue; by default the latest unfinished one continues, else a new
    one starts (`new` always starts one). `on_plan(total, already_done)` is called once before building;
    `on_done(record, how)` once per pair, `how` being "built", "resumed", "reused" or "error". With
    `keep_wheels`, the rebuilt wheel of each reproducible pair (and its build dependencies) goes into the
    store, where eviction can use it. `setup` is what every build shares (sandbox, limits, wheelhouse, zig
    cache, sysroots); `verify_kw` goes to `verify` (builds, variations, diffoscope...)."""
    t0 = time.monotonic()
    for t in targets:
        get_target(t)  # unknown targets fail here, not in a worker
    runs_dir = runs_dir.absolute()
    path, exists = _choose_run(runs_dir, run, new, clock)
    sdists = [Path(s).absolute() for s in sdists]
    if exists:
        meta = _read_run(path)
    else:
        meta = {"schema": RUN_SCHEMA, "name": path.name, "started": clock().isoformat(timespec="seconds"),
                "finished": None, "targets": list(targets), "sdists": [s.name for s in sdists]}
        _write_json(path / "run.json", meta)
    result = NightlyRun(path.name, path)
    say = on_done or (lambda _r, _how: None)

    done = {f"{r['recipe']['sdist_filename']}@{r['recipe']['target']}": r for r in _run_records(path)
            if not r.get("nightly_error")}
    jobs = [Job(s, t) for s in sdists for t in targets]
    env = environment()
    wh = (setup.wheelhouse or Path(os.environ.get("VERIFIER_WHEELHOUSE", ".cache/wheelhouse"))).absolute()
    setup = replace(setup, wheelhouse=wh)
    digests = {s: str(hash_file(s).digest()) for s in sdists}
    for s in sdists:  # the store keeps every sdist it grades (sdists are never evicted)
        if not store.has(s.name):
            store.put(s)
    if on_plan is not None:
        on_plan(len(jobs), sum(1 for j in jobs if j.key in done))

    todo: list[Job] = []
    for job in jobs:
        if job.key in done:
            result.records.append(done[job.key])
            result.resumed += 1
            say(done[job.key], "resumed")
            continue
        if not force:
            current = [r for r in store.rebuild_records(sdist=job.sdist.name, target=job.target)
                       if is_current(r, digests[job.sdist], job.target, env, lambda f: (wh / f).is_file())]
            if current:
                rec = dict(current[-1], nightly_reused=True)
                _write_json(path / "records" / f"{job.key}.json", rec)
                result.records.append(rec)
                result.reused += 1
                say(rec, "reused")
                continue
        todo.append(job)

    own = executor is None
    pool = executor or local_pool(2)
    try:
        futures = {
            pool.submit(verify, job.sdist, (job.target,), workdir=path / "work" / job.sdist.name,
                        setup=setup, **verify_kw): job
            for job in todo
        }
        for fut in concurrent.futures.as_completed(futures):
            job = futures[fut]
            exc = fut.exception()
            finished = clock().isoformat(timespec="seconds")
            if exc is not None:
                rec = _error_record(job, digests[job.sdist], exc, finished)
                how = "error"
                result.errors += 1
            else:
                (vr,) = fut.result()
                rec = vr.to_json()
                _keep_files(store, rec)
                store.record_rebuild(rec)  # the catalog first: a kill after this reuses it on resume
                if keep_wheels and rec["grade"] == "reproducible":
                    why = _keep_wheel(store, rec, path / "work" / job.sdist.name / job.target, wh)
                    if why:
                        rec["nightly_note"] = why
                how = "built"
                result.built += 1
            rec["finished"] = finished
            _write_json(path / "records" / f"{job.key}.json", rec)
            result.records.append(rec)
            say(rec, how)
    finally:
        if own:
            pool.shutdown(cancel_futures=True)
    if result.errors == 0:
        meta["finished"] = clock().isoformat(timespec="seconds")
        _write_json(path / "run.json", meta)
    result.seconds = round(time.monotonic() - t0, 3)
    return result


# --- the report of a night -------------------------------------------------------------------------

def make_report(store: Any, runs_dir: Path, *, run: str | None = None, out_dir: Path | None = None,
                clock: Clock = _utcnow, title: str = "casstore reproducibility report") -> Report:
    """The report of `run` (default: the latest) with the trend over the nights up to it. Regressions
    also look at the store's older records; the bytes eviction could reclaim come from the store's
    wheels. Links are relative to `out_dir` (where the report will be written)."""
    nights = load_nights(runs_dir.absolute(), run)
    if not nights:
        raise VerifierError(f"no nightly runs in {runs_dir}")
    files = store.ls()
    present = {str(f.blake3) for f in files}
    base = (out_dir or runs_dir / nights[-1].name).absolute()
    tonight = {r.get("started") for r in nights[-1].records}
    history = [r for r in store.rebuild_records() if r.get("started") not in tonight]
    return build_report(
        nights, generated=clock().isoformat(timespec="seconds"), title=title, history=history,
        wheels=[(f.filename, str(f.blake3), f.stored_size) for f in files if f.kind == "wheel"],
        present=present.__contains__, rel=lambda p: os.path.relpath(p, base) if os.path.isabs(p) else p,
    )


def write_report(report: Report, out_dir: Path, formats: Sequence[str] = ("html", "md", "json")) -> list[Path]:
    """Write `report` as report.html / report.md / report.json into `out_dir`; returns the paths."""
    from .render import to_html, to_json, to_markdown

    render = {"html": to_html, "md": to_markdown, "json": to_json}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        if fmt not in render:
            raise VerifierError(f"unknown report format {fmt!r} (html, md, json)")
        p = out_dir / f"report.{fmt}"
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(render[fmt](report))
        os.replace(tmp, p)
        paths.append(p)
    return paths
