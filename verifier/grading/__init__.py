"""Grading: build an sdist several times per target (`verify`; `rebuild` builds once), grade the outcomes
(pure), explain differences (member diff, causes, diffoscope), compare a rebuild's binaries with the
published wheel's by structure (`compare_structure`), and verify batches on an Executor."""

from .batch import verify_many
from .diff import compare_wheels, published_status, run_diffoscope
from .grades import BuildOutcome, Grade, grade
from .structure import Binary, Check, StructureReport, describe
from .structure import compare_wheels as compare_structure
from .verification import BlobStore, rebuild, variations_for, verify

__all__ = [
    "Binary",
    "BlobStore",
    "BuildOutcome",
    "Check",
    "Grade",
    "StructureReport",
    "compare_structure",
    "compare_wheels",
    "describe",
    "grade",
    "published_status",
    "rebuild",
    "run_diffoscope",
    "variations_for",
    "verify",
    "verify_many",
]
