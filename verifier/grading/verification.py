"""Orchestration: rebuild and verify. Decisions are made by pure modules; this one wires them to I/O,
including what they need from a casstore store (`BlobStore`, duck-typed) and `keep_records`."""

from __future__ import annotations

import datetime
import shutil
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from ..build.build import (
    PURE_NOTE,
    REBUILD,
    VARIATIONS,
    BuildResult,
    BuildSetup,
    Variation,
    build_once,
    make_recipe,
)
from ..build.smoke import SKIPPED
from ..build.wheel import extension_modules, parse_wheel_name
from ..errors import (
    DependenciesUnavailable,
    InvalidSdist,
    PythonExcluded,
    TargetPythonUnavailable,
    ToolMissing,
    VerifierError,
)
from ..exec.detect import detect_sandbox
from ..exec.sandbox import hiding
from ..record import Explanation, ModuleCheck, Recipe, VerificationRecord
from ..toolchain.pythons import choose_python
from ..toolchain.targets import DEFAULT_TARGET, Target, get_target
from .diff import compare_wheels, published_status, run_diffoscope
from .grades import BuildOutcome, Grade, grade
from .modules import compare_modules, grade_with_modules
from .structure import Check, StructureReport
from .structure import compare_wheels as compare_structure
from .unbuildable import sdist_facts, unbuildable_record

__all__ = ["BlobStore", "keep_records", "rebuild", "variations_for", "verify"]


class BlobStore(Protocol):
    """What the verifier needs from a casstore Store (duck-typed: casstore is never imported here)."""

    def put_blob(self, data: bytes) -> Any: ...
    def export(self, name_or_digest: Any, dest_path: Any) -> Any: ...
    def ls(self, project: str | None = None, kind: str | None = None) -> list[Any]: ...


def keep_records(store: Any, records: list[VerificationRecord]) -> list[str]:
    """Keep each record in the store's catalog (`Store.record_rebuild`), or as a plain blob in a store
    without a catalog of records; returns the digests of the records' JSON."""
    keep = getattr(store, "record_rebuild", None)
    if keep is None:
        return [str(store.put_blob(r.dumps().encode())) for r in records]
    return [str(keep(r.to_json())) for r in records]


def _resolve_sdist(sdist: Path | str | Any, store: BlobStore | None, workdir: Path) -> Path:
    """A path as is; otherwise a filename or Digest in `store`, exported (verified) into `workdir`."""
    if isinstance(sdist, Path):
        if not sdist.is_file():
            raise InvalidSdist(str(sdist), "no such file")
        return sdist.absolute()
    if isinstance(sdist, str) and Path(sdist).is_file():
        return Path(sdist).absolute()
    if store is None:
        raise InvalidSdist(str(sdist), "no such file, and no store to look it up in")
    name = str(sdist)
    if name.startswith("blake3:"):
        match = [f for f in store.ls(kind="sdist") if str(f.blake3) == name]
        if not match:
            raise InvalidSdist(name, "no sdist with this digest in the store")
        name = match[0].filename
    dest = workdir / "sdist" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        store.export(name, dest)
    except Exception as e:  # casstore's errors are not ours to import; re-raise as ours with its message
        raise InvalidSdist(name, f"cannot export from the store: {e}") from e
    return dest


_LEGACY_TAGS = {"manylinux_2_5": "manylinux1", "manylinux_2_12": "manylinux2010", "manylinux_2_17": "manylinux2014"}


def _published_in_store(store: BlobStore, rebuilt: Path, workdir: Path) -> Path | None:
    """The wheel the index published with the rebuilt wheel's tags, if the store holds one (exported)."""
    from ..build.wheel import parse_wheel_name

    want = parse_wheel_name(rebuilt.name)
    plat = want.platform
    aliases = {plat} | {plat.replace(k, v) for k, v in _LEGACY_TAGS.items() if plat.startswith(k)}
    candidates: list[Any] = store.ls(kind="wheel")
    for f in candidates:
        try:
            have = parse_wheel_name(f.filename)
        except VerifierError:
            continue
        if (have.name.lower(), have.version, have.python, have.abi) != (
            want.name.lower(), want.version, want.python, want.abi
        ) or not aliases & set(have.platform.split(".")):
            continue
        if f.filename == rebuilt.name and str(getattr(f, "origin", "")) == "rebuilt":
            continue
        dest: Path = workdir / "published" / f.filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        store.export(f.filename, dest)
        return dest
    return None


def _module_check(results: Sequence[BuildResult], published: Path | None, target: Target,
                  recipe: Recipe) -> ModuleCheck:
    """The first wheel's extension modules against the published wheel's (`modules.compare_modules`)."""
    built = next((r for r in results if r.wheel is not None), None)
    pub = extension_modules(published, target.ext_suffix(recipe.python_tag[2:])) if published else None
    return compare_modules(built.ext_modules if built else None, pub, published.name if published else None)


def variations_for(builds: int, base: Sequence[Variation] = VARIATIONS) -> list[Variation]:
    """`builds` variations: the base ones, then copies with their own build paths."""
    if builds < 1:
        raise VerifierError(f"builds must be at least 1, got {builds!r}")
    out = list(base[:builds])
    for i in range(len(out), builds):
        v = base[i % len(base)]
        out.append(replace(v, name=f"{v.name}-{i}", subdir=f"{v.subdir}-{i}", cold_cache=False))
    return out


def _hidden(store: BlobStore | None, workdir: Path) -> list[Path]:
    """What builds must not see: the store's directory when it has one on disk (not when builds run inside it)."""
    root = getattr(store, "root", None)
    if not isinstance(root, Path) or not root.is_dir():
        return []
    root = root.resolve()
    return [] if root == workdir or root in workdir.parents else [root]


def _confined(setup: BuildSetup, store: BlobStore | None, workdir: Path) -> BuildSetup:
    """`setup` with its sandbox decided (the best one here when none is given), hiding the store."""
    sandbox = setup.sandbox if setup.sandbox is not None else detect_sandbox()
    return replace(setup, sandbox=hiding(sandbox, _hidden(store, workdir)))


def _blob(store: BlobStore | None, path: Path | None) -> str | None:
    if store is None or path is None or not path.is_file():
        return None
    return str(store.put_blob(path.read_bytes()))


def rebuild(
    sdist: Path | str | Any,
    target: str = DEFAULT_TARGET,
    *,
    workdir: Path,
    store: BlobStore | None = None,
    recipe: Recipe | None = None,
    variation: Variation = REBUILD,
    setup: BuildSetup = BuildSetup(),  # noqa: B008 (frozen: one shared default is safe)
    smoke: bool = True,
    python: str | None = None,
) -> tuple[Recipe, BuildResult]:
    """Build one wheel of `sdist` for `target` (by `recipe`, or a fresh one pinned now), in `setup`'s
    sandbox (default: the best one here; the store's directory hidden) under its limits: `setup.timeout`
    seconds, `setup.memory` bytes per process and `setup.processes` processes."""
    workdir = workdir.absolute()
    path = _resolve_sdist(sdist, store, workdir)
    setup = _confined(setup, store, workdir)
    if recipe is None:
        kind, requires = sdist_facts(path, workdir)
        try:
            python = choose_python(requires, python)
            recipe = make_recipe(path, target, workdir=workdir, setup=setup, python=python, pure=kind.pure)
        except (PythonExcluded, DependenciesUnavailable) as e:  # not built: the record of why, no build
            rec = unbuildable_record(path, get_target(target).name, kind, str(e), started="", python=python)
            infra = not (isinstance(e, DependenciesUnavailable) and e.conflict)
            return rec.recipe, BuildResult(variation.name, ok=False, infra_failure=infra, failure=str(e))
    res = build_once(path, recipe, variation, workdir=workdir, setup=setup, smoke=smoke)
    return recipe, res


def _members(res: BuildResult) -> frozenset[str] | None:
    if res.wheel is None:
        return None
    with zipfile.ZipFile(res.wheel) as zf:
        return frozenset(zf.namelist())


def _explain(results: Sequence[BuildResult], workdir: Path, store: BlobStore | None, diffoscope: bool) -> Explanation | None:
    done = [r for r in results if r.wheel is not None]
    if len(done) < 2:
        return None
    a = done[0]
    b = next((r for r in done[1:] if r.blake3 != a.blake3), None)
    if b is None:
        return None
    roots = [str(r.root) for r in (a, b) if r.root]
    exp = compare_wheels(a.wheel, b.wheel, roots)  # type: ignore[arg-type]
    if diffoscope:
        try:
            report = run_diffoscope(a.wheel, b.wheel, workdir / "diffoscope.txt")  # type: ignore[arg-type]
            exp.diffoscope_path = str(report)
            exp.diffoscope_blake3 = _blob(store, report)
        except ToolMissing as e:
            exp.note = str(e)
    return exp


def verify(
    sdist: Path | str | Any,
    targets: Sequence[str] = (DEFAULT_TARGET,),
    *,
    builds: int = 2,
    workdir: Path,
    store: BlobStore | None = None,
    setup: BuildSetup = BuildSetup(),  # noqa: B008 (frozen: one shared default is safe)
    variations: Sequence[Variation] = VARIATIONS,
    published: Mapping[str, Path] | None = None,
    stored_digests: Mapping[str, str] | None = None,
    diffoscope: bool = True,
    progress: Callable[[str], None] | None = None,
    clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    python: str | None = None,
) -> list[VerificationRecord]:
    """Build `sdist` `builds` times per target under varied conditions and grade each target.

    `published` maps a target to the wheel the index published for it; `stored_digests` maps a target to
    the digest of the wheel already on record for this recipe. The sdist's code runs in `setup`'s sandbox
    (default: the best one here; the store's directory hidden) under its limits: `setup.timeout` seconds,
    `setup.memory` bytes per process and `setup.processes` processes per build; `setup` also names the
    wheelhouse, zig cache and sysroots. `python` is the CPython version to build for (default: the host's
    if the sdist's Requires-Python allows it, else the newest in `verifier.PYTHONS` it allows; one it
    excludes is graded inconclusive without a build). Returns one record per target."""
    workdir = workdir.absolute()
    say = progress or (lambda _msg: None)
    path = _resolve_sdist(sdist, store, workdir)
    setup = _confined(setup, store, workdir)
    kind, requires = sdist_facts(path, workdir)
    cause = kind.cannot_build
    if cause is None:
        try:
            python = choose_python(requires, python)
        except PythonExcluded as e:
            cause = str(e)
    records = []
    pure_first: VerificationRecord | None = None
    for target in targets:
        t = get_target(target)
        started, t0 = clock().isoformat(timespec="seconds"), time.monotonic()
        if cause:
            records.append(unbuildable_record(path, t.name, kind, cause, started=started, python=python))
            say(f"{path.name} [{t.name}]: inconclusive ({cause})")
            continue
        given = (published or {}).get(t.name)
        pure = kind.pure or (given is not None and parse_wheel_name(given.name).is_pure)
        if pure_first is not None:  # one pure wheel serves every target: not built again
            records.append(_same_pure(pure_first, t.name, started, given, workdir))
            say(f"{path.name} [{t.name}]: {pure_first.grade} (the pure wheel of {pure_first.recipe.target})")
            continue
        tdir = workdir / t.name
        if tdir.exists():
            shutil.rmtree(tdir)
        tdir.mkdir(parents=True)
        try:
            recipe = make_recipe(path, t, workdir=tdir, setup=setup, python=python, pure=pure)
        except TargetPythonUnavailable as e:  # the machine has no such CPython for this target: inconclusive
            records.append(unbuildable_record(path, t.name, kind, str(e), started=started, python=python))
            say(f"{path.name} [{t.name}]: inconclusive ({e})")
            continue
        except DependenciesUnavailable as e:  # the machine's failure (inconclusive) unless pip says they conflict
            g = Grade.BROKEN if e.conflict else Grade.INCONCLUSIVE
            records.append(unbuildable_record(path, t.name, kind, str(e), started=started, python=python, grade=g))
            say(f"{path.name} [{t.name}]: {g.value} ({e})")
            continue
        results = []
        for v in variations_for(builds, variations):
            say(f"{path.name} [{t.name}] build {v.name!r}...")
            res = build_once(path, recipe, v, workdir=tdir, setup=setup)
            say(f"{path.name} [{t.name}] build {v.name!r}: {'ok' if res.ok else res.failure} ({res.seconds:.1f} s)")
            results.append(res)
        outcomes = [BuildOutcome(r.variation, r.ok, r.infra_failure, r.failure, r.blake3, _members(r)) for r in results]
        g, reasons = grade(outcomes, (stored_digests or {}).get(t.name))
        explanation = _explain(results, tdir, store, diffoscope) if g in (Grade.REPEATABLE, Grade.BROKEN) else None
        first = results[0]
        pub_wheel = (published or {}).get(t.name)
        if pub_wheel is None and store is not None and first.wheel is not None:
            pub_wheel = _published_in_store(store, first.wheel, tdir)
        pub = published_status(first.wheel, pub_wheel) if first.wheel else None
        if pure:
            g, reasons = _pure_grade(g, reasons, pub_wheel)
        modules = _module_check(results, pub_wheel, t, recipe)
        g, reasons = grade_with_modules(g, reasons, modules)
        structure = _structure(first.wheel, pub_wheel, t) if not pure else None
        if structure is not None and not structure.ok:
            g, reasons = Grade.BROKEN, [f"{structure.summary} ({structure.published})", *reasons]
        records.append(VerificationRecord(
            recipe=recipe, recipe_digest=recipe.digest, grade=g.value, reasons=reasons,
            builds=[r.to_record(_blob(store, r.log)) for r in results], explanation=explanation,
            published=pub, seconds=round(time.monotonic() - t0, 3), started=started, build_kind=kind.label,
            modules=modules, target_checks=_target_checks(first, t, structure, pure),
            structure=structure.to_dict() if structure is not None else None,
        ))
        say(f"{path.name} [{t.name}]: {g.value}")
        if pure:
            pure_first = records[-1]
    return records


def _structure(rebuilt: Path | None, published: Path | None, target: Target) -> StructureReport | None:
    """The rebuilt wheel's binaries against the published wheel's (`structure.py`), for macOS and Windows
    targets, where auditwheel has nothing to say and, but for Windows x86_64, nothing runs here."""
    if target.os == "linux" or rebuilt is None or published is None:
        return None
    try:
        return compare_structure(rebuilt, published)
    except VerifierError as e:  # a published file LIEF cannot read: say so, grade on the rest
        return StructureReport(rebuilt.name, published.name, (Check("*", "readable", False, str(e)),))


def _target_checks(first: BuildResult, target: Target, structure: StructureReport | None, pure: bool) -> str:
    """One line: what ran on the target (the smoke import) and what was checked only structurally."""
    if pure:
        return "pure wheel: imported with the build's CPython; nothing target-specific to check"
    smoke = first.smoke or "not run"
    on_target = ("imported on the target" + (" (under Wine)" if target.os == "windows" else "")
                 if smoke == "ok" else f"not run on the target ({smoke.removeprefix(SKIPPED)})")
    if target.os == "linux":
        return f"{on_target}; auditwheel: {first.auditwheel_policy or 'not run'}"
    if structure is None:
        return f"{on_target}; structure: no published wheel to compare with"
    return f"{on_target}; structure against {structure.published}: {structure.summary}"


def _pure_grade(g: Grade, reasons: list[str], published: Path | None) -> tuple[Grade, list[str]]:
    """A pure build's grade: broken beside a published platform wheel (the index's wheel compiled what
    this build did not); otherwise its own grade, saying that nothing target-specific was checked."""
    if published is not None and not parse_wheel_name(published.name).is_pure:
        return Grade.BROKEN, [*reasons, f"the build made a pure wheel; the index published {published.name!r}"]
    return g, [*reasons, PURE_NOTE]


def _same_pure(first: VerificationRecord, target: str, started: str, published: Path | None,
               workdir: Path) -> VerificationRecord:
    """The record of `first`'s pure wheel for another target: the same builds, the recipe for `target`,
    graded and compared against `published` (this target's published wheel) when there is one."""
    recipe = replace(first.recipe, target=target)
    g, reasons, pub = Grade(first.grade), [r for r in first.reasons if r != PURE_NOTE], first.published
    wheel = next((p for b in first.builds if b.wheel_filename
                  for p in sorted((workdir / first.recipe.target).rglob(b.wheel_filename))), None)
    if published is not None and wheel is not None:
        g, reasons = _pure_grade(g, reasons, published)
        pub = published_status(wheel, published)
    elif PURE_NOTE in first.reasons:
        reasons.append(PURE_NOTE)
    return replace(first, recipe=recipe, recipe_digest=recipe.digest, started=started, seconds=0.0, grade=g.value,
                   published=pub, reasons=[*reasons, f"the pure wheel built for {first.recipe.target}; not built again"])
