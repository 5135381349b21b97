"""Plain values that the store returns: what a file is, what fsck, gc and stats found."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .digest import Digest

__all__ = ["FileInfo", "FsckReport", "GcReport", "ProjectStats", "Stats"]


@dataclass(frozen=True, slots=True)
class FileInfo:
    filename: str
    project: str
    version: str
    kind: str  # 'sdist' | 'wheel'
    tags: tuple[str, ...]
    size: int
    stored_size: int
    blake3: Digest
    sha256: str
    layout: str
    origin: str
    added: float
    state: str = "present"  # 'present' | 'evicted' (bytes gone, digests and recipe kept)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FileInfo:
        return cls(
            filename=row["filename"],
            project=row["project"],
            version=row["version"],
            kind=row["kind"],
            tags=tuple(row["tags"].split()) if row["tags"] else (),
            size=row["size"],
            stored_size=row["stored_size"] or 0,
            blake3=Digest.parse(row["blake3"]),
            sha256=row["sha256"],
            layout=row["layout"],
            origin=row["origin"] or "uploaded",
            added=row["added"],
            state=row.get("state") or "present",
        )

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["blake3"] = str(self.blake3)
        d["tags"] = list(self.tags)
        return d


@dataclass(slots=True)
class FsckReport:
    objects_checked: int = 0
    bytes_checked: int = 0
    corrupt: list[tuple[str, str]] = field(default_factory=list)  # (digest, what was wrong)
    missing: list[str] = field(default_factory=list)  # referenced but absent
    unreferenced: list[str] = field(default_factory=list)  # present, held by nothing
    damaged_files: list[str] = field(default_factory=list)  # files that cannot be read back
    temp_files: int = 0
    catalog_problems: list[str] = field(default_factory=list)  # what SQLite's quick_check found
    repaired: list[str] = field(default_factory=list)  # blobs and files restored from mirrors (repair)
    quarantined: list[str] = field(default_factory=list)  # corrupt objects moved aside (repair)

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing or self.damaged_files or self.catalog_problems)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


@dataclass(slots=True)
class GcReport:
    removed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept_young: int = 0  # unreferenced but inside the grace period
    temp_removed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ProjectStats:
    project: str
    files: int
    raw_bytes: int
    stored_bytes: int  # blobs this project's files reference (a blob shared across projects counts in each)


@dataclass(frozen=True, slots=True)
class Stats:
    files: int
    sdists: int
    wheels: int
    raw_bytes: int
    stored_bytes: int  # distinct blobs held by files, compressed, as on disk
    projects: tuple[ProjectStats, ...]

    @property
    def ratio(self) -> float:
        return self.stored_bytes / self.raw_bytes if self.raw_bytes else 0.0

    @property
    def saved_bytes(self) -> int:
        return self.raw_bytes - self.stored_bytes

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["saved_bytes"] = self.saved_bytes
        return d
