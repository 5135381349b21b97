"""Rebuild wheels from sdists with Zig, in isolated sandboxed environments, and grade them.

Public API: what this module exports; the subpackages are the rooms it is built from, bottom up (each
imports only those below it, and the shared ``record`` and ``errors``): ``exec`` (running the sdist's
code: subprocesses, sandboxes, limits) → ``toolchain`` (targets, CPython versions, Zig, sysroots) →
``build`` (one build) → ``grading`` (rebuild, verify, grade, explain) → ``nightly`` (runs, build-all,
reports) → ``plugin`` (the entry points casstore loads). casstore never imports this package."""

from .build.build import REBUILD, VARIATIONS, BuildResult, BuildSetup, Variation, make_recipe
from .build.native import inputs_from_store, keep_inputs, native_cause
from .build.wheelhouse import keep_build_deps, wheelhouse_from_store
from .errors import (
    BuildFailed,
    DependenciesUnavailable,
    InvalidBinary,
    InvalidPython,
    InvalidSdist,
    InvalidTarget,
    PinMismatch,
    PythonExcluded,
    ToolMissing,
    VerifierError,
)
from .exec.detect import detect_sandbox
from .exec.sandbox import Bubblewrap, NoSandbox, Sandbox, Unshare
from .grading.batch import verify_many
from .grading.diff import compare_wheels, published_status, run_diffoscope
from .grading.grades import BuildOutcome, Grade, grade
from .grading.structure import StructureReport
from .grading.structure import compare_wheels as compare_structure
from .grading.verification import BlobStore, keep_records, rebuild, variations_for, verify
from .nightly.nightly import (
    NightlyRun,
    is_current,
    load_nights,
    make_executor,
    make_report,
    run_nightly,
    write_report,
)
from .nightly.render import from_json as report_from_json
from .nightly.render import to_html as report_to_html
from .nightly.render import to_json as report_to_json
from .nightly.render import to_markdown as report_to_markdown
from .nightly.report import GRADES, REPORT_SCHEMA, Night, Report, build_report
from .plugin.rebuilder import ZigRebuilder
from .record import (
    RECORD_SCHEMA,
    BuildRecord,
    Explanation,
    Input,
    ModuleCheck,
    Pin,
    Recipe,
    VerificationRecord,
)
from .toolchain.nativelib import LIBRARIES, BuiltLibrary, ensure_library
from .toolchain.pythons import HOST_PYTHON, PYTHONS, PythonSource, choose_python, get_python
from .toolchain.targets import DEFAULT_TARGET, TARGETS, Target, get_target
from .toolchain.zig import ZIG_VERSION

__all__ = [
    "DEFAULT_TARGET",
    "GRADES",
    "HOST_PYTHON",
    "LIBRARIES",
    "PYTHONS",
    "REBUILD",
    "RECORD_SCHEMA",
    "REPORT_SCHEMA",
    "TARGETS",
    "VARIATIONS",
    "ZIG_VERSION",
    "BlobStore",
    "Bubblewrap",
    "BuildFailed",
    "BuildOutcome",
    "BuildRecord",
    "BuildResult",
    "BuildSetup",
    "BuiltLibrary",
    "DependenciesUnavailable",
    "Explanation",
    "Grade",
    "Input",
    "InvalidBinary",
    "InvalidPython",
    "InvalidSdist",
    "InvalidTarget",
    "ModuleCheck",
    "Night",
    "NightlyRun",
    "NoSandbox",
    "Pin",
    "PinMismatch",
    "PythonExcluded",
    "PythonSource",
    "Recipe",
    "Report",
    "Sandbox",
    "StructureReport",
    "Target",
    "ToolMissing",
    "Unshare",
    "Variation",
    "VerificationRecord",
    "VerifierError",
    "ZigRebuilder",
    "build_report",
    "choose_python",
    "compare_structure",
    "compare_wheels",
    "detect_sandbox",
    "ensure_library",
    "get_python",
    "get_target",
    "grade",
    "inputs_from_store",
    "is_current",
    "keep_build_deps",
    "keep_inputs",
    "keep_records",
    "load_nights",
    "make_executor",
    "make_recipe",
    "make_report",
    "native_cause",
    "published_status",
    "rebuild",
    "report_from_json",
    "report_to_html",
    "report_to_json",
    "report_to_markdown",
    "run_diffoscope",
    "run_nightly",
    "variations_for",
    "verify",
    "verify_many",
    "wheelhouse_from_store",
    "write_report",
]
