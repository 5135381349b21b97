"""Rebuild records as data: dataclasses <-> JSON. The JSON is self-describing (a `schema` field) and
readable by any tool without importing the verifier."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from casstore import Hasher

from .errors import VerifierError

__all__ = ["RECORD_SCHEMA", "BuildRecord", "Explanation", "Input", "ModuleCheck", "Pin", "Recipe", "VerificationRecord"]

RECORD_SCHEMA = "casstore.verification/1"


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Pin:
    """A build dependency, pinned by filename and digests."""

    name: str
    version: str
    filename: str
    sha256: str
    blake3: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, str]) -> Pin:
        return cls(d["name"], d["version"], d["filename"], d["sha256"], d["blake3"])


@dataclass(frozen=True)
class Input:
    """A native library built from pinned source for the recipe's target (`toolchain/nativelib.py`): its
    name and upstream version, the source tarball by name and sha256, and the built prefix (headers, static
    archive, .pc files) as one deterministic tar by BLAKE3 — a blob in the store when the recipe is kept."""

    name: str
    version: str
    source: str  # e.g. "debian:libyaml_0.2.5.orig.tar.gz"
    source_sha256: str
    blake3: str  # "blake3:<hex>" of the built prefix's tar
    build: str = ""  # digest of the library recipe (build system, options, dependencies' archives)

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, str]) -> Input:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a rebuilt wheel (DESIGN.md, "Build recipe")."""

    sdist_filename: str
    sdist_sha256: str
    sdist_blake3: str
    target: str
    python: str  # e.g. "cpython-3.11.7"
    python_tag: str  # e.g. "cp311"
    zig_version: str
    build_deps: tuple[Pin, ...]
    source_date_epoch: int
    cppflags: str = ""
    ldflags: str = ""
    umask: str = "022"
    pythonhashseed: str = "0"
    deterministic_tempnames: bool = True  # tempfile names from a fixed sequence (sitecustomize in the venv)
    frontend: str = "build --wheel --no-isolation"
    # Cross builds only: where the target's CPython headers and ABI values come from, e.g.
    # "debian:libpython3.11-dev_3.11.2-6+deb12u9_arm64.deb"; "" for a native build (and then left out of
    # the JSON, so native recipes keep their digests).
    target_headers: str = ""
    # Another CPython version than the host's: where the interpreter that ran the build comes from, e.g.
    # "debian:python3.13-minimal_3.13.5-2+deb13u5_amd64.deb"; "" (left out of the JSON) for the host's own.
    build_python: str = ""
    # Native libraries the build links (`build/native.py`), each built from pinned source for the target;
    # left out of the JSON when empty, so recipes without any keep their digests.
    inputs: tuple[Input, ...] = ()
    # The environment the native table gives the project's build ({<library>} stands for where that input is
    # unpacked), e.g. (("PYYAML_FORCE_LIBYAML", "1"),); left out of the JSON when empty.
    build_env: tuple[tuple[str, str], ...] = ()
    # PEP 517 config settings the native table gives the backend (`build -C KEY=VALUE`), e.g.
    # ("platform-guessing=disable",) for pillow; left out of the JSON when empty.
    config_settings: tuple[str, ...] = ()
    # The sdist compiles nothing: the wheel is pure (py3-none-any), built once with the build Python and no
    # cross setup whatever the target; left out of the JSON when False.
    pure: bool = False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["build_deps"] = [p.to_json() for p in self.build_deps]
        d["inputs"] = [i.to_json() for i in self.inputs]
        d["build_env"] = dict(self.build_env)
        d["config_settings"] = list(self.config_settings)
        for optional in ("target_headers", "build_python", "inputs", "build_env", "config_settings", "pure"):
            if not d[optional]:
                del d[optional]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Recipe:
        kw = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        kw["build_deps"] = tuple(Pin.from_json(p) for p in d["build_deps"])
        kw["inputs"] = tuple(Input.from_json(i) for i in d.get("inputs") or ())
        kw["build_env"] = tuple(sorted((d.get("build_env") or {}).items()))
        kw["config_settings"] = tuple(d.get("config_settings") or ())
        return cls(**kw)

    @property
    def digest(self) -> str:
        hasher = Hasher()
        hasher.update(_canonical(self.to_json()))
        return str(hasher.digest())


@dataclass
class BuildRecord:
    """One build of a verification, as stored."""

    variation: str
    ok: bool
    infra_failure: bool
    failure: str | None
    wheel_filename: str | None
    wheel_sha256: str | None
    wheel_blake3: str | None
    ext_modules: list[str]
    auditwheel_policy: str | None
    smoke: str | None  # "ok", or why it failed; None when not run
    log_blake3: str | None  # the build log, as a blob in the store
    log_path: str | None
    seconds: float
    sandbox: str  # e.g. "bubblewrap 0.8.0", or a fallback with its reason: "none (bubblewrap unavailable: ...)"
    # Added later (absent from older records, read back as None): the build's wall-clock limit in seconds,
    # and every limit it ran under ("timeout 1800 s; memory 16384 MiB (RLIMIT_AS); processes 1024 (cgroup v1 pids)").
    timeout: float | None = None
    limits: str | None = None


@dataclass
class Explanation:
    """Why two wheels differ."""

    only_in_first: list[str] = field(default_factory=list)
    only_in_second: list[str] = field(default_factory=list)
    differing_members: list[str] = field(default_factory=list)
    equal_after_normalization: bool = False
    causes: list[str] = field(default_factory=list)
    diffoscope_blake3: str | None = None
    diffoscope_path: str | None = None
    note: str | None = None


@dataclass
class ModuleCheck:
    """The rebuilt wheel's extension modules (dotted names, without their suffix) against those of the wheel
    the index published for the same version and tags (`grading/modules.py`): a module the published wheel
    has and the rebuild lacks makes the result broken; one only the rebuild has is noted."""

    summary: str  # one line, e.g. "not compared with a published wheel"
    published_wheel: str | None = None  # its filename; None when no published wheel was known
    rebuilt: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the published wheel only
    extra: list[str] = field(default_factory=list)  # in the rebuild only


@dataclass
class VerificationRecord:
    recipe: Recipe
    recipe_digest: str
    grade: str
    reasons: list[str]
    builds: list[BuildRecord]
    explanation: Explanation | None
    published: str | None  # identical / equal-after-normalization / differs / none
    seconds: float
    started: str  # ISO 8601, UTC
    schema: str = RECORD_SCHEMA
    # BuildKind.label of the sdist, e.g. "meson-python + Cython + C++"; None (left out of the JSON, so
    # older records read and write back unchanged) when it was not decided.
    build_kind: str | None = None
    # The extension modules against the published wheel's; None (left out of the JSON) in older records.
    modules: ModuleCheck | None = None
    # What was checked on the target itself and what only structurally (`grading/structure.py`), e.g.
    # "imported on the target" / "structural only: …"; None (left out of the JSON) in older records.
    target_checks: str | None = None
    # The structural comparison with the published wheel (`StructureReport.to_dict()`); None when not run.
    structure: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "recipe": self.recipe.to_json(),
            "recipe_digest": self.recipe_digest,
            "grade": self.grade,
            "reasons": list(self.reasons),
            "builds": [asdict(b) for b in self.builds],
            "explanation": asdict(self.explanation) if self.explanation else None,
            "published": self.published,
            "seconds": self.seconds,
            "started": self.started,
        } | ({"build_kind": self.build_kind} if self.build_kind is not None else {}) | (
            {"modules": asdict(self.modules)} if self.modules is not None else {}) | (
            {"target_checks": self.target_checks} if self.target_checks is not None else {}) | (
            {"structure": self.structure} if self.structure is not None else {})

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> VerificationRecord:
        if d.get("schema") != RECORD_SCHEMA:
            raise VerifierError(f"not a verification record: schema {d.get('schema')!r}")
        exp = d.get("explanation")
        return cls(
            recipe=Recipe.from_json(d["recipe"]),
            recipe_digest=d["recipe_digest"],
            grade=d["grade"],
            reasons=list(d["reasons"]),
            builds=[BuildRecord(**b) for b in d["builds"]],
            explanation=Explanation(**exp) if exp else None,
            published=d.get("published"),
            seconds=d["seconds"],
            started=d["started"],
            schema=d["schema"],
            build_kind=d.get("build_kind"),
            modules=ModuleCheck(**d["modules"]) if d.get("modules") is not None else None,
            target_checks=d.get("target_checks"),
            structure=d.get("structure"),
        )

    @classmethod
    def loads(cls, s: str) -> VerificationRecord:
        return cls.from_json(json.loads(s))
