"""Static export: the simple index as plain files that nginx (or any static web server) serves unchanged.

Layout (the same URLs as ``casstore serve``)::

    simple/index.html, simple/index.json                  project list
    simple/<project>/index.html, simple/<project>/index.json
    files/<filename>, files/<filename>.metadata           files (verified on the way out) and PEP 658 metadata
    api/files.json                                         the digest listing mirrors sync from

A static server serves one file per URL, so HTML is the default and JSON needs a rule choosing
``index.json`` by Accept or ``?format=``: :func:`nginx_config` writes one. Re-running an export only
writes what changed; files no longer in the store are removed from the export.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CasstoreError
from ..fsutil import atomic_write_bytes
from ..names import parse_filename
from ..store import Store
from . import pages as _pages
from .projects import Index

__all__ = ["ExportReport", "export_index", "nginx_config", "nginx_server"]


@dataclass(slots=True)
class ExportReport:
    projects: int = 0
    files_written: int = 0
    files_kept: int = 0
    metadata_written: int = 0
    removed: list[str] = field(default_factory=list)
    bytes_written: int = 0

    def to_json(self) -> dict[str, object]:
        return {"projects": self.projects, "files_written": self.files_written, "files_kept": self.files_kept,
                "metadata_written": self.metadata_written, "removed": self.removed,
                "bytes_written": self.bytes_written}


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write_bytes(path, data)
    return True


def export_index(store: Store, dest: str | os.PathLike[str], *, files_url: str | None = None,
                 project_files_url: Mapping[str, str] | None = None) -> ExportReport:
    """Write the simple index of ``store`` under ``dest``. ``files_url`` makes pages point at files
    hosted elsewhere (then no files are copied); ``project_files_url`` does so for some projects only
    (a project's declared secondary cache location)."""
    root = Path(dest)
    if root.exists() and not root.is_dir():
        raise CasstoreError(f"Cannot export to {os.fspath(dest)!r}: not a directory")
    simple, files_dir, api = root / "simple", root / "files", root / "api"
    for d in (simple, files_dir, api):
        d.mkdir(parents=True, exist_ok=True)
    index = Index(store, files_url, project_files_url)
    report = ExportReport()
    projects = index.projects()
    report.projects = len(projects)
    _write_if_changed(simple / "index.html", _pages.index_html(projects).encode())
    _write_if_changed(simple / "index.json", _pages.index_json(projects).encode())
    wanted: set[str] = set()
    listing = []
    for project in projects:
        files = index.files(project)
        page = index.project_page(project)
        if page is None:
            continue
        pdir = simple / project
        pdir.mkdir(exist_ok=True)
        _write_if_changed(pdir / "index.html", _pages.project_html(page).encode())
        _write_if_changed(pdir / "index.json", _pages.project_json(page).encode())
        for f in files:
            listing.append({"filename": f.filename, "project": f.project, "version": f.version, "kind": f.kind,
                            "size": f.size, "sha256": f.sha256, "blake3": str(f.blake3), "added": f.added,
                            "url": f"/files/{f.filename}"})
            if index.project_files_url.get(project, files_url) is not None:
                continue
            wanted.add(f.filename)
            target = files_dir / parse_filename(f.filename).filename  # a path only once it parses as a name
            if target.is_file() and target.stat().st_size == f.size:
                report.files_kept += 1
            else:
                store.export(f.filename, target)  # atomic; only verified bytes ever land there
                report.files_written += 1
                report.bytes_written += f.size
            if f.kind == "wheel" and index.core_metadata(f) is not None:
                wanted.add(f.filename + ".metadata")
                if _write_if_changed(files_dir / (f.filename + ".metadata"), index.metadata_bytes(f.filename)):
                    report.metadata_written += 1
    _write_if_changed(api / "files.json", json.dumps({"files": listing}, separators=(",", ":")).encode())
    for p in sorted(files_dir.iterdir()):
        if p.name not in wanted and not p.name.startswith("."):
            p.unlink()
            report.removed.append(f"files/{p.name}")
    for p in sorted(simple.iterdir()):
        if p.is_dir() and p.name not in projects:
            shutil.rmtree(p)
            report.removed.append(f"simple/{p.name}/")
    return report


def nginx_server(root: str | os.PathLike[str], listen: str = "127.0.0.1:8080") -> str:
    """An nginx ``server`` block (plus the ``map`` it needs, both for the ``http`` context) serving an
    export at ``root``: HTML by default, ``index.json`` when the client asks for PEP 691 JSON (by
    ``?format=`` or an Accept header naming it; q-values are not weighed)."""
    return f"""\
map "$arg_format|$http_accept" $casstore_page {{
    default                                                   index.html;
    "~^(json|application/vnd\\.pypi\\.simple\\.(v1|latest)\\+json)\\|"  index.json;
    "~^\\|.*application/vnd\\.pypi\\.simple\\.(v1|latest)\\+json"       index.json;
}}

server {{
    listen {listen};
    root {os.fspath(root)};
    absolute_redirect off;

    location = / {{ return 301 /simple/; }}
    location /simple/ {{
        index $casstore_page;
        types {{ text/html html; application/vnd.pypi.simple.v1+json json; }}
        add_header Vary Accept;
    }}
    location /files/ {{
        types {{ }}
        default_type application/octet-stream;
        add_header Cache-Control "public, max-age=31536000, immutable";
    }}
    location = /api/files {{
        default_type application/json;
        try_files /api/files.json =404;
    }}
}}
"""


def nginx_config(root: str | os.PathLike[str], listen: str, prefix: str | os.PathLike[str],
                 user: str | None = None) -> str:
    """A complete nginx.conf for running nginx in the foreground under ``prefix`` (tests, demos).
    ``user``: the workers' user, when nginx is started as root (default: nginx's, usually nobody)."""
    p = os.fspath(prefix)
    user_line = f"user {user};\n" if user else ""
    return f"""\
{user_line}daemon off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {p}/access.log;
    client_body_temp_path {p}/tmp-body;
    proxy_temp_path {p}/tmp-proxy;
    fastcgi_temp_path {p}/tmp-fastcgi;
    uwsgi_temp_path {p}/tmp-uwsgi;
    scgi_temp_path {p}/tmp-scgi;
    sendfile on;
{_indent(nginx_server(root, listen))}
}}
"""


def _indent(text: str) -> str:
    return "".join("    " + line if line.strip() else line for line in text.splitlines(keepends=True))
