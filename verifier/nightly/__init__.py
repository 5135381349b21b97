"""Many sdists times a target matrix: nightly runs (resumable run directories, any Executor), the
``build-all`` of a store's sdists (``build_all.build_all``), and the report of a night (a model built
by pure code, rendered to HTML, Markdown and JSON)."""

from .nightly import (
    NightlyRun,
    is_current,
    load_nights,
    make_executor,
    make_report,
    run_nightly,
    write_report,
)
from .report import GRADES, REPORT_SCHEMA, Night, Report, build_report

__all__ = [
    "GRADES",
    "REPORT_SCHEMA",
    "Night",
    "NightlyRun",
    "Report",
    "build_report",
    "is_current",
    "load_nights",
    "make_executor",
    "make_report",
    "run_nightly",
    "write_report",
]
