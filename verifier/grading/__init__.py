"""Grading: build an sdist several times per target (`verify`; `rebuild` builds once), grade the outcomes
(pure), explain differences (member diff, causes, diffoscope), and verify batches on an Executor."""

from .batch import verify_many
from .diff import compare_wheels, published_status, run_diffoscope
from .grades import BuildOutcome, Grade, grade
from .verification import BlobStore, rebuild, variations_for, verify

__all__ = [
    "BlobStore",
    "BuildOutcome",
    "Grade",
    "compare_wheels",
    "grade",
    "published_status",
    "rebuild",
    "run_diffoscope",
    "variations_for",
    "verify",
    "verify_many",
]
