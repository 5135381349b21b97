"""The HTML report in a real browser: headless Chromium loads the page from disk; the test checks the
rendered DOM (grade totals, a regression row, the SVG chart) and keeps a screenshot in tmp_path."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from verifier import report_to_html

from .test_report import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )


def test_html_is_self_contained() -> None:
    page = report_to_html(report())
    assert "<svg" in page and "<style>" in page
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="https?:', page)  # nothing fetched from anywhere


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package `chromium`)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(report_to_html(report()))
    url = page.as_uri()

    dom = _chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'id="night">2026-11-20<' in html
    assert 'data-grade="reproducible"><b>2</b>reproducible · 33.3%' in html
    assert 'data-grade="broken"><b>1</b>broken · 16.7%' in html
    assert "<td>version</td><td>bar</td><td>x86_64-linux-gnu.2.17</td><td>bar-1.0.tar.gz</td><td>bar-2.0.tar.gz</td>" in html
    assert '<div id="trend"><svg' in html and "grades per night" in html

    shot = tmp_path / "report.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars", url)
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
