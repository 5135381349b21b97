"""Simple repository API pages: pure models and renderers (PEP 503 HTML, PEP 691 JSON, PEP 700, 658/714).

Nothing here does I/O. The server and the static export build a :class:`ProjectPage` from the
catalog and render it with the same functions, so both publish byte-identical pages.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from packaging.version import InvalidVersion, Version

from ..model import FileInfo

__all__ = [
    "API_VERSION",
    "HTML_TYPE",
    "JSON_TYPE",
    "CoreMetadata",
    "Format",
    "PageFile",
    "ProjectPage",
    "build_project_page",
    "choose_format",
    "file_url",
    "index_html",
    "index_json",
    "media_type",
    "not_found",
    "project_html",
    "project_json",
]

API_VERSION = "1.1"  # 1.1 = PEP 700 (size, upload-time, versions)
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
Format = Literal["json", "html", "text/html"]

_OFFERS: dict[str, Format] = {
    "application/vnd.pypi.simple.v1+json": "json",
    "application/vnd.pypi.simple.latest+json": "json",
    "application/vnd.pypi.simple.v1+html": "html",
    "application/vnd.pypi.simple.latest+html": "html",
    "text/html": "text/html",
}
_SHORT: dict[str, Format] = {"json": "json", "html": "html"}


@dataclass(frozen=True, slots=True)
class CoreMetadata:
    """A wheel's METADATA as served at ``<file>.metadata`` (PEP 658/714)."""

    sha256: str
    requires_python: str | None = None


@dataclass(frozen=True, slots=True)
class PageFile:
    filename: str
    url: str  # relative to the project page, or absolute; without the hash fragment
    sha256: str
    blake3: str  # hex
    size: int
    upload_time: str  # ISO 8601, UTC, "Z"
    core_metadata: CoreMetadata | None


@dataclass(frozen=True, slots=True)
class ProjectPage:
    name: str  # normalized
    files: tuple[PageFile, ...]
    versions: tuple[str, ...]


def upload_time(added: float) -> str:
    return datetime.fromtimestamp(added, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def file_url(filename: str, files_url: str | None = None) -> str:
    """Where a project page points for ``filename``: ``files_url`` + name, or the relative default
    (pages live at ``simple/<project>/``, files at ``files/<filename>``)."""
    base = files_url if files_url is not None else "../../files/"
    if not base.endswith("/"):
        base += "/"
    return base + filename


def _version_key(v: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(v))
    except InvalidVersion:
        return (0, v)


def build_project_page(
    project: str,
    files: Iterable[FileInfo],
    metadata: Callable[[FileInfo], CoreMetadata | None] = lambda f: None,
    files_url: str | None = None,
) -> ProjectPage:
    entries = []
    versions: set[str] = set()
    for f in sorted(files, key=lambda f: f.filename):
        versions.add(f.version)
        entries.append(
            PageFile(
                filename=f.filename,
                url=file_url(f.filename, files_url),
                sha256=f.sha256,
                blake3=f.blake3.hex,
                size=f.size,
                upload_time=upload_time(f.added),
                core_metadata=metadata(f),
            )
        )
    return ProjectPage(project, tuple(entries), tuple(sorted(versions, key=_version_key)))


# -- content negotiation (PEP 691) --------------------------------------------------------------


def _parse_accept(accept: str) -> list[tuple[str, float]]:
    out = []
    for part in accept.split(","):
        fields = [p.strip() for p in part.split(";")]
        if not fields[0]:
            continue
        q = 1.0
        for p in fields[1:]:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        out.append((fields[0].lower(), q))
    return out


def choose_format(accept: str | None, query_format: str | None = None) -> Format | None:
    """The format to answer with, or None when nothing acceptable can be offered (406).

    ``?format=`` (a media type, or ``json``/``html``) wins over the Accept header; no Accept header,
    or ``*/*``, gets HTML (what a browser and an old client expect)."""
    if query_format:
        asked = query_format.strip().lower()
        return _SHORT.get(asked) or _OFFERS.get(asked)
    if not accept or not accept.strip():
        return "text/html"
    best: tuple[float, int, Format] | None = None
    for i, (mtype, q) in enumerate(_parse_accept(accept)):
        if q <= 0:
            continue
        fmt: Format | None = _OFFERS.get(mtype)
        if fmt is None and mtype in ("*/*", "application/*"):
            fmt = "json" if mtype == "application/*" else "text/html"
        if fmt is None and mtype == "text/*":
            fmt = "text/html"
        if fmt is None:
            continue
        cand = (q, -i, fmt)
        if best is None or cand[:2] > best[:2]:
            best = cand
    return best[2] if best else None


def media_type(fmt: Format) -> str:
    return {"json": JSON_TYPE, "html": HTML_TYPE, "text/html": "text/html"}[fmt]


# -- renderers --------------------------------------------------------------------------------------

_HEAD = (
    '<!DOCTYPE html>\n<html>\n<head>\n<meta name="pypi:repository-version" content="{v}">\n'
    "<title>{title}</title>\n</head>\n<body>\n"
)


def project_html(page: ProjectPage) -> str:
    name = html.escape(page.name)
    lines = [_HEAD.format(v=API_VERSION, title=f"Links for {name}"), f"<h1>Links for {name}</h1>\n"]
    for f in page.files:
        attrs = f'href="{html.escape(f.url)}#sha256={f.sha256}"'
        if f.core_metadata is not None:
            meta = f"sha256={f.core_metadata.sha256}"
            attrs += f' data-core-metadata="{meta}" data-dist-info-metadata="{meta}"'
            if f.core_metadata.requires_python:
                attrs += f' data-requires-python="{html.escape(f.core_metadata.requires_python)}"'
        lines.append(f"<a {attrs}>{html.escape(f.filename)}</a><br/>\n")
    lines.append("</body>\n</html>\n")
    return "".join(lines)


def project_json(page: ProjectPage) -> str:
    files = []
    for f in page.files:
        entry: dict[str, object] = {
            "filename": f.filename,
            "url": f.url,
            "hashes": {"sha256": f.sha256, "blake3": f.blake3},
            "size": f.size,
            "upload-time": f.upload_time,
            "yanked": False,
        }
        if f.core_metadata is not None:
            meta = {"sha256": f.core_metadata.sha256}
            entry["core-metadata"] = meta
            entry["dist-info-metadata"] = meta
            if f.core_metadata.requires_python:
                entry["requires-python"] = f.core_metadata.requires_python
        else:
            entry["core-metadata"] = False
            entry["dist-info-metadata"] = False
        files.append(entry)
    doc = {"meta": {"api-version": API_VERSION}, "name": page.name, "versions": list(page.versions),
           "files": files}
    return json.dumps(doc, separators=(",", ":"))


def index_html(projects: Sequence[str]) -> str:
    lines = [_HEAD.format(v=API_VERSION, title="Simple index")]
    for p in projects:
        e = html.escape(p)
        lines.append(f'<a href="{e}/">{e}</a><br/>\n')
    lines.append("</body>\n</html>\n")
    return "".join(lines)


def index_json(projects: Sequence[str]) -> str:
    doc = {"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in projects]}
    return json.dumps(doc, separators=(",", ":"))


def not_found(fmt: Format, what: str) -> str:
    """A 404 body in the format the client asked for."""
    if fmt == "json":
        return json.dumps({"meta": {"api-version": API_VERSION}, "error": f"not found: {what}"})
    e = html.escape(what)
    return _HEAD.format(v=API_VERSION, title="Not found") + f"<h1>Not found: {e}</h1>\n</body>\n</html>\n"
