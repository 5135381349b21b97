"""Maintenance apart from the store: :mod:`.fsck` (re-hash everything, report, repair), :mod:`.repair`
(from mirrors, by digest) and :mod:`.recovery` (the SQLite catalog re-derived from the blobs)."""

from .recovery import RecoveryReport, recover_catalog
from .repair import backfill_records, repair_blobs

__all__ = ["RecoveryReport", "backfill_records", "recover_catalog", "repair_blobs"]
