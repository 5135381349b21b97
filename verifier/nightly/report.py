"""The nightly report as data: one model, built by pure code from verification records (JSON dicts,
schema ``casstore.verification/1``) of one or more nights; rendered separately (``render``) to HTML,
Markdown and JSON, and read back from JSON.

Nothing here does I/O. The caller gathers the nights (run directories), the store's wheels and the
digests present in the store, and passes them in."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from packaging.utils import InvalidSdistFilename, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from ..errors import VerifierError

__all__ = [
    "GRADES",
    "REPORT_SCHEMA",
    "Cause",
    "Link",
    "Night",
    "NightSummary",
    "Reclaimable",
    "Regression",
    "Report",
    "Row",
    "Tally",
    "build_report",
    "project_version",
]

REPORT_SCHEMA = "casstore.report/1"
GRADES = ("reproducible", "repeatable", "broken", "inconclusive")


def project_version(sdist_filename: str) -> tuple[str, str]:
    """(normalized project, version) of an sdist filename; a best effort for non-standard names."""
    try:
        parsed_name, parsed_version = parse_sdist_filename(sdist_filename)
        return str(parsed_name), str(parsed_version)
    except (InvalidSdistFilename, InvalidVersion):
        stem = sdist_filename.removesuffix(".tar.gz").removesuffix(".zip")
        name, _, version = stem.rpartition("-")
        return (name or stem).lower().replace("_", "-").replace(".", "-"), version


def _version_key(v: str) -> tuple[int, Any]:
    try:
        return (1, Version(v))
    except InvalidVersion:
        return (0, v)


@dataclass(frozen=True)
class Night:
    """One night's input: its name (the run directory's) and its records, in completion order."""

    name: str
    records: Sequence[Mapping[str, Any]]


@dataclass
class Tally:
    """Counts per grade for one slice (everything, a target, a project)."""

    label: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, grade: str) -> int:
        return self.counts.get(grade, 0)

    def percent(self, grade: str) -> float:
        return 100.0 * self.count(grade) / self.total if self.total else 0.0


@dataclass
class NightSummary:
    name: str
    counts: dict[str, int]


@dataclass
class Regression:
    """`kind` is "version" (the previous release was reproducible, this one is not) or "recipe" (the same
    recipe was reproducible on an earlier night and is not now)."""

    kind: str
    project: str
    target: str
    before: str  # the sdist (version regression) or night (recipe regression) that was reproducible
    now: str  # the sdist now
    grade: str  # its grade now
    recipe_digest: str
    why: str


@dataclass
class Cause:
    cause: str
    count: int
    examples: list[str] = field(default_factory=list)


@dataclass
class Link:
    label: str
    path: str  # a file path (relative to the report's directory where possible)


@dataclass
class Row:
    sdist: str
    project: str
    version: str
    target: str
    grade: str
    why: str
    causes: list[str]
    published: str | None
    seconds: float
    recipe_digest: str
    started: str
    logs: list[Link] = field(default_factory=list)
    diffoscope: Link | None = None
    # what ran on the target and what was only structural (the record's `target_checks`; "" in older records)
    checked: str = ""


@dataclass
class Reclaimable:
    """What eviction could free now: stored bytes of wheels the eviction rule accepts."""

    files: int
    stored_bytes: int
    wheels: list[str] = field(default_factory=list)


@dataclass
class Report:
    title: str
    night: str
    generated: str
    totals: Tally
    by_target: list[Tally]
    by_project: list[Tally]
    trend: list[NightSummary]
    regressions: list[Regression]
    causes: list[Cause]
    rows: list[Row]
    reclaimable: Reclaimable
    schema: str = REPORT_SCHEMA

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Report:
        if d.get("schema") != REPORT_SCHEMA:
            raise VerifierError(f"not a report: schema {d.get('schema')!r}")

        def tally(t: Mapping[str, Any]) -> Tally:
            return Tally(t["label"], dict(t["counts"]))

        def row(r: Mapping[str, Any]) -> Row:
            kw = dict(r)
            kw["logs"] = [Link(**link) for link in r.get("logs") or []]
            kw["diffoscope"] = Link(**r["diffoscope"]) if r.get("diffoscope") else None
            return Row(**kw)

        return cls(
            title=d["title"], night=d["night"], generated=d["generated"], totals=tally(d["totals"]),
            by_target=[tally(t) for t in d["by_target"]], by_project=[tally(t) for t in d["by_project"]],
            trend=[NightSummary(n["name"], dict(n["counts"])) for n in d["trend"]],
            regressions=[Regression(**r) for r in d["regressions"]],
            causes=[Cause(**c) for c in d["causes"]], rows=[row(r) for r in d["rows"]],
            reclaimable=Reclaimable(**d["reclaimable"]), schema=d["schema"],
        )


# --- building the model (pure) -------------------------------------------------------------------

def _with_python(r: Mapping[str, Any]) -> Mapping[str, Any]:
    """A record built by another CPython than the host's own (its recipe names a `build_python`) is reported
    under the target and its Python tag ("aarch64-linux-gnu.2.17 cp313"), so it is a pair of its own beside
    the host version's; records of the host's own Python keep the bare target."""
    rec = r["recipe"]
    if not rec.get("build_python"):
        return r
    return {**r, "recipe": {**rec, "target": f"{rec['target']} {rec['python_tag']}"}}


def _latest_per_pair(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The last record per (sdist, target): a night that retried a pair counts its last attempt."""
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in records:
        out[(r["recipe"]["sdist_filename"], r["recipe"]["target"])] = r
    return out


def _tally(label: str, records: Iterable[Mapping[str, Any]]) -> Tally:
    c = Counter(str(r["grade"]) for r in records)
    return Tally(label, {g: c.get(g, 0) for g in GRADES} | {g: n for g, n in c.items() if g not in GRADES})


def _short(text: str, limit: int = 90) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _causes_of(r: Mapping[str, Any]) -> list[str]:
    """Why a record is not reproducible, as short cause labels (the diff's causes, else the reasons)."""
    if r["grade"] == "reproducible":
        return []
    exp = r.get("explanation") or {}
    if exp.get("causes"):
        return sorted(set(exp["causes"]))
    return sorted({_cause_label(str(reason)) for reason in r.get("reasons") or []}) or [r["grade"]]


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_PATH = re.compile(r"(?<![\w.])/[^\s:;,)]+")


def _cause_label(reason: str) -> str:
    """A reason as a cause that counts across packages: without the build's name, quoted names or paths.
    "build 'second' failed: wheel 'a-1-cp311-linux_x86_64.whl' has unexpected tags" -> "failed: wheel '…' has
    unexpected tags"."""
    text = reason.strip().splitlines()[0] if reason.strip() else reason
    if text.startswith("build '") and "' " in text:
        text = text.split("' ", 1)[1]
    return _short(_PATH.sub("…", _QUOTED.sub("'…'", text)))


def _why(r: Mapping[str, Any]) -> str:
    exp = r.get("explanation") or {}
    if exp.get("causes"):
        members = exp.get("differing_members") or []
        more = f" in {', '.join(members[:3])}" + (" …" if len(members) > 3 else "") if members else ""
        return "; ".join(exp["causes"]) + more
    return "; ".join(_short(str(x), 160) for x in r.get("reasons") or [])


def _row(r: Mapping[str, Any], rel: Callable[[str], str]) -> Row:
    rec = r["recipe"]
    project, version = project_version(rec["sdist_filename"])
    exp = r.get("explanation") or {}
    logs = [Link(f"{b.get('variation')} log", rel(b["log_path"])) for b in r.get("builds") or [] if b.get("log_path")]
    diff = Link("diffoscope", rel(exp["diffoscope_path"])) if exp.get("diffoscope_path") else None
    return Row(
        sdist=rec["sdist_filename"], project=project, version=version, target=rec["target"], grade=r["grade"],
        why=_why(r), causes=_causes_of(r), published=r.get("published"), seconds=float(r.get("seconds") or 0.0),
        recipe_digest=r["recipe_digest"], started=r["started"], logs=logs, diffoscope=diff,
        checked=r.get("target_checks") or "",
    )


def _regressions(current: Sequence[Mapping[str, Any]], earlier: Sequence[Night],
                 history: Sequence[Mapping[str, Any]]) -> list[Regression]:
    out: list[Regression] = []
    # A recipe that was reproducible on an earlier night and is not now.
    reproducible_on: dict[str, str] = {}
    for night in earlier:
        for r in night.records:
            if r["grade"] == "reproducible":
                reproducible_on[r["recipe_digest"]] = night.name
    for r in history:
        if r["grade"] == "reproducible":
            reproducible_on.setdefault(r["recipe_digest"], f"record of {r.get('started', '?')}")
    flagged: set[tuple[str, str]] = set()
    for r in current:
        rec = r["recipe"]
        if r["grade"] != "reproducible" and r["recipe_digest"] in reproducible_on:
            project, _ = project_version(rec["sdist_filename"])
            out.append(Regression("recipe", project, rec["target"], reproducible_on[r["recipe_digest"]],
                                  rec["sdist_filename"], r["grade"], r["recipe_digest"], _why(r)))
            flagged.add((rec["sdist_filename"], rec["target"]))
    # A package whose previous version was reproducible and this one is not (per target).
    latest: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}  # (project, target) -> version -> record
    for r in [*history, *(x for n in earlier for x in n.records), *current]:
        rec = r["recipe"]
        project, version = project_version(rec["sdist_filename"])
        latest.setdefault((project, rec["target"]), {})[version] = r
    for r in current:
        rec = r["recipe"]
        if r["grade"] == "reproducible":
            continue
        project, version = project_version(rec["sdist_filename"])
        older = sorted((v for v in latest.get((project, rec["target"]), {}) if _version_key(v) < _version_key(version)),
                       key=_version_key)
        if not older:
            continue
        prev = latest[(project, rec["target"])][older[-1]]
        if prev["grade"] == "reproducible":
            out.append(Regression("version", project, rec["target"], prev["recipe"]["sdist_filename"],
                                  rec["sdist_filename"], r["grade"], r["recipe_digest"], _why(r)))
    return sorted(out, key=lambda g: (g.project, g.target, g.kind))


def _reclaimable(wheels: Iterable[tuple[str, str, int]], records: Sequence[Mapping[str, Any]],
                 present: Callable[[str], bool]) -> Reclaimable:
    """Sum of stored sizes of wheels that eviction would accept, by the store's own rule
    (`casstore.eligibility`: latest grade of the recipe reproducible, the wheel's exact bytes
    rebuilt at least twice, sdist and build dependencies in the store)."""
    from casstore import eligibility  # the rule eviction applies; pure code

    recipes_of: dict[str, set[str]] = {}  # wheel digest -> recipes that built it
    for r in records:
        for b in r.get("builds") or []:
            if b.get("wheel_blake3"):
                recipes_of.setdefault(str(b["wheel_blake3"]), set()).add(str(r["recipe_digest"]))
    files, total, names = 0, 0, []
    for filename, digest, stored in wheels:
        recipes = recipes_of.get(digest)
        if not recipes:
            continue
        recs = [r for r in records if r["recipe_digest"] in recipes]  # every record of those recipes, in order
        if eligibility(filename, digest, recs, present=present, toolchain=lambda _r: None).evictable:
            files, total = files + 1, total + stored
            names.append(filename)
    return Reclaimable(files, total, sorted(names))


_ROW_ORDER = ("broken", "repeatable", "inconclusive", "reproducible")


def _row_order(w: Row) -> tuple[int, str, tuple[int, Any], str]:
    """Problems first, then by project, version, target."""
    rank = _ROW_ORDER.index(w.grade) if w.grade in _ROW_ORDER else len(_ROW_ORDER)
    return (rank, w.project, _version_key(w.version), w.target)


def build_report(
    nights: Sequence[Night],
    *,
    generated: str,
    title: str = "casstore reproducibility report",
    history: Sequence[Mapping[str, Any]] = (),
    wheels: Iterable[tuple[str, str, int]] = (),
    present: Callable[[str], bool] = lambda _digest: False,
    rel: Callable[[str], str] = lambda p: p,
) -> Report:
    """The report of the last of `nights` (oldest first), with the trend over all of them.

    `history` are earlier records from elsewhere (the store's catalog), oldest first: they count for
    regressions. `wheels` are the store's wheels as (filename, blake3 digest, stored bytes) and `present`
    tells whether a digest is in the store: they give the bytes eviction could reclaim. `rel` turns a
    log's path into the link the report shows."""
    if not nights:
        raise VerifierError("a report needs at least one night of records")
    nights = [Night(n.name, [_with_python(r) for r in n.records]) for n in nights]
    history = [_with_python(r) for r in history]
    night = nights[-1]
    current = list(_latest_per_pair(night.records).values())
    targets = sorted({r["recipe"]["target"] for r in current})
    projects = sorted({project_version(r["recipe"]["sdist_filename"])[0] for r in current})
    causes: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for r in current:
        for c in _causes_of(r):
            causes[c] += 1
            examples.setdefault(c, []).append(f"{r['recipe']['sdist_filename']} [{r['recipe']['target']}]")
    every = [*history, *(r for n in nights for r in n.records)]
    return Report(
        title=title,
        night=night.name,
        generated=generated,
        totals=_tally("all", current),
        by_target=[_tally(t, (r for r in current if r["recipe"]["target"] == t)) for t in targets],
        by_project=[_tally(p, (r for r in current if project_version(r["recipe"]["sdist_filename"])[0] == p))
                    for p in projects],
        trend=[NightSummary(n.name, _tally(n.name, _latest_per_pair(n.records).values()).counts) for n in nights],
        regressions=_regressions(current, nights[:-1], history),
        causes=[Cause(c, n, examples[c][:5]) for c, n in sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))],
        rows=sorted((_row(r, rel) for r in current), key=_row_order),
        reclaimable=_reclaimable(wheels, every, present),
    )
