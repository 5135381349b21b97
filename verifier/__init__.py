"""Rebuild wheels from sdists with Zig, in isolated sandboxed environments, and grade them.

Public API; everything else is private. casstore never imports this package."""

from ._api import BlobStore, rebuild, variations_for, verify
from ._batch import verify_many
from ._build import REBUILD, VARIATIONS, BuildResult, Variation, make_recipe
from ._diff import compare_wheels, published_status, run_diffoscope
from ._errors import BuildFailed, InvalidSdist, InvalidTarget, PinMismatch, ToolMissing, VerifierError
from ._grade import BuildOutcome, Grade, grade
from ._rebuilder import ZigRebuilder, keep_build_deps, keep_records, wheelhouse_from_store
from ._render import from_json as report_from_json, to_html as report_to_html, to_json as report_to_json, to_markdown as report_to_markdown  # noqa: E501
from ._report import REPORT_SCHEMA, Night, Report, build_report
from ._record import RECORD_SCHEMA, BuildRecord, Explanation, Recipe, VerificationRecord
from ._sandbox import Bubblewrap, NoSandbox, Sandbox, Unshare, detect_sandbox
from ._targets import DEFAULT_TARGET, TARGETS, Target, get_target
from ._wheelhouse import Pin
from ._zig import ZIG_VERSION

__all__ = [
    "REPORT_SCHEMA", "Night", "Report", "build_report",
    "report_from_json", "report_to_html", "report_to_json", "report_to_markdown",
    "DEFAULT_TARGET",
    "REBUILD",
    "RECORD_SCHEMA",
    "TARGETS",
    "VARIATIONS",
    "ZIG_VERSION",
    "BlobStore",
    "Bubblewrap",
    "BuildFailed",
    "BuildOutcome",
    "BuildRecord",
    "BuildResult",
    "Explanation",
    "Grade",
    "InvalidSdist",
    "InvalidTarget",
    "NoSandbox",
    "Pin",
    "PinMismatch",
    "Recipe",
    "Sandbox",
    "Target",
    "ToolMissing",
    "Unshare",
    "Variation",
    "VerificationRecord",
    "VerifierError",
    "ZigRebuilder",
    "compare_wheels",
    "detect_sandbox",
    "get_target",
    "grade",
    "keep_build_deps",
    "keep_records",
    "make_recipe",
    "published_status",
    "rebuild",
    "run_diffoscope",
    "variations_for",
    "verify",
    "verify_many",
    "wheelhouse_from_store",
]
