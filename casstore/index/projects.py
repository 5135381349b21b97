"""What the simple index publishes, read from a store: project lists, project pages, core metadata.

Shared by the server (:mod:`._server`) and the static export (:mod:`._export`). A wheel's METADATA is
read once from the store's verified stream and kept as a blob pinned under ``metadata:<filename>``,
so it is never extracted again; an in-memory map keeps its sha256 for page rendering.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Mapping
from email.parser import BytesHeaderParser
from typing import BinaryIO

from ..digest import CHUNK, Digest
from ..errors import CasstoreError, InvalidContent, NotFound
from ..model import FileInfo
from ..names import normalize_project, parse_filename
from ..store import Store
from ..untrusted import ARCHIVE_ERRORS
from .pages import CoreMetadata, ProjectPage, build_project_page

__all__ = ["MAX_METADATA", "Index", "metadata_ref"]

MAX_METADATA = 16 << 20  # a METADATA larger than this is refused (zip bombs)
_SPOOL = 64 << 20  # wheels up to this size are unpacked in memory, larger ones in a temp file


def metadata_ref(filename: str) -> str:
    return f"metadata:{filename}"


class Index:
    """The index view of a store. Thread-safe; cheap to keep for the life of a server."""

    def __init__(self, store: Store, files_url: str | None = None,
                 project_files_url: Mapping[str, str] | None = None, *, serve_rebuilt: bool = False) -> None:
        """``serve_rebuilt``: also list rebuilt wheels that stand beside an uploaded wheel of the same
        distribution (they differ only in their build tag, which pip and uv prefer: listing both would
        switch every client to the rebuild). Off by default: clients get what the project published."""
        self.store = store
        self.serve_rebuilt = serve_rebuilt
        self.files_url = files_url
        self.project_files_url: dict[str, str] = {normalize_project(k): v for k, v in (project_files_url or {}).items()}
        self._meta: dict[str, tuple[Digest, CoreMetadata] | None] = {}
        self._lock = threading.Lock()

    # -- listings -----------------------------------------------------------------------------

    def projects(self) -> list[str]:
        return self.store.catalog.projects()

    def files(self, project: str) -> list[FileInfo]:
        files = self.store.ls(project=project)
        if self.serve_rebuilt:
            return files
        uploaded = {(f.version, f.tags) for f in files if f.kind == "wheel" and f.origin != "rebuilt"}
        return [f for f in files if not _shadowing_rebuild(f, uploaded)]

    def project_page(self, project: str) -> ProjectPage | None:
        """The page of a normalized project name, or None when the store has no file of it."""
        files = self.files(project)
        if not files:
            return None
        url = self.project_files_url.get(project, self.files_url)
        return build_project_page(project, files, self.core_metadata, url)

    def warm(self) -> int:
        """Build every project page once (extracting and pinning METADATA where missing); returns
        the number of projects. A server calls this in the background at startup."""
        projects = self.projects()
        for p in projects:
            self.project_page(p)
        return len(projects)

    # -- core metadata (PEP 658) --------------------------------------------------------------

    def core_metadata(self, info: FileInfo) -> CoreMetadata | None:
        """sha256 (and Requires-Python) of a wheel's METADATA; None for sdists and broken wheels."""
        got = self._lookup(info)
        return got[1] if got else None

    def metadata_bytes(self, filename: str) -> bytes:
        info = self.store.info(filename)
        got = self._lookup(info)
        if got is None:
            raise NotFound(f"metadata of {filename!r}")
        return self.store.get_blob(got[0])

    def _lookup(self, info: FileInfo) -> tuple[Digest, CoreMetadata] | None:
        if info.kind != "wheel":
            return None
        key = info.filename + "\0" + info.blake3.hex
        with self._lock:
            if key in self._meta:
                return self._meta[key]
        got = self._load_pinned(info) or self._extract(info)
        with self._lock:
            self._meta[key] = got
        return got

    def _load_pinned(self, info: FileInfo) -> tuple[Digest, CoreMetadata] | None:
        for hexdigest in self.store.catalog.blobs_of(metadata_ref(info.filename)):
            try:
                data = self.store.get_blob(Digest(hexdigest))
            except CasstoreError:
                continue
            return Digest(hexdigest), _describe(data)
        return None

    def _extract(self, info: FileInfo) -> tuple[Digest, CoreMetadata] | None:
        try:
            data = read_wheel_metadata(self.store, info)
        except CasstoreError:
            return None
        if data is None:
            return None
        digest = self.store.put_blob(data, ref=metadata_ref(info.filename))
        return digest, _describe(data)


def _shadowing_rebuild(info: FileInfo, uploaded: set[tuple[str, tuple[str, ...]]]) -> bool:
    """A rebuilt wheel with a build tag beside an uploaded wheel of the same version and tags."""
    if info.kind != "wheel" or info.origin != "rebuilt" or (info.version, info.tags) not in uploaded:
        return False
    return bool(parse_filename(info.filename).build)


def _describe(data: bytes) -> CoreMetadata:
    headers = BytesHeaderParser().parsebytes(data)
    rp = headers.get("Requires-Python")
    return CoreMetadata(hashlib.sha256(data).hexdigest(), str(rp).strip() if rp else None)


def read_wheel_metadata(store: Store, info: FileInfo) -> bytes | None:
    """The ``<name>-<version>.dist-info/METADATA`` of a stored wheel, read through the verified stream
    (a corrupt wheel raises :class:`ChecksumMismatch` before anything is returned). A wheel that is not
    a readable zip raises :class:`InvalidContent`; at most :data:`MAX_METADATA` bytes are inflated."""
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as spool:
        with store.open(info.filename) as src:
            shutil.copyfileobj(src, spool, CHUNK)
        spool.seek(0)
        try:
            return _read_metadata(spool, info.filename)  # type: ignore[arg-type]  # a SpooledTemporaryFile is a binary file
        except ARCHIVE_ERRORS as e:
            raise InvalidContent(info.filename, f"METADATA unreadable ({type(e).__name__}: {e})") from e


def _read_metadata(spool: BinaryIO, filename: str) -> bytes | None:
    with zipfile.ZipFile(spool) as zf:
        names = zf.namelist()
        member = _metadata_member(names, filename)
        if member is None:
            return None
        if names.count(member) > 1:  # which one would an installer read? (PyPI refuses such wheels)
            raise zipfile.BadZipFile(f"duplicate member {member!r}")
        zi = zf.getinfo(member)
        if zi.file_size > MAX_METADATA:
            return None
        with zf.open(zi) as m:
            data = m.read(MAX_METADATA + 1)  # zipfile stops at the declared size (and checks the CRC)
        return data if len(data) <= MAX_METADATA else None


def _metadata_member(names: list[str], filename: str) -> str | None:
    candidates = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
    if len(candidates) == 1:
        return candidates[0]
    dist = parse_filename(filename)
    for n in candidates:
        stem = n.split("/")[0][: -len(".dist-info")]
        name = stem.rpartition("-")[0]
        try:
            if normalize_project(name) == dist.project:
                return n
        except ValueError:
            continue
    return None
