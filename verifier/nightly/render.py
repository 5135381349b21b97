"""Rendering the report model (``report.Report``): a self-contained HTML page (inline CSS and an inline
SVG trend chart drawn by matplotlib), Markdown, and JSON that reads back into the same model."""

from __future__ import annotations

import html
import io
import json
from urllib.parse import quote

from .report import GRADES, Link, Report

__all__ = ["from_json", "to_html", "to_json", "to_markdown", "trend_svg"]

COLORS = {"reproducible": "#2e7d32", "repeatable": "#f9a825", "broken": "#c62828", "inconclusive": "#9e9e9e"}


def to_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"


def from_json(text: str) -> Report:
    return Report.from_json(json.loads(text))


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def trend_svg(report: Report) -> str:
    """Stacked bars of grades per night, with the reproducible share as a line: an inline <svg>."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n.name for n in report.trend]
    with matplotlib.rc_context({"svg.hashsalt": "casstore-report", "svg.fonttype": "none", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
        try:
            bottom = [0] * len(names)
            xs = range(len(names))
            for g in GRADES:
                vals = [n.counts.get(g, 0) for n in report.trend]
                ax.bar(xs, vals, bottom=bottom, color=COLORS[g], label=g, width=0.6)
                bottom = [b + v for b, v in zip(bottom, vals)]
            ax.set_xticks(list(xs), names, rotation=20, ha="right")
            ax.set_ylabel("(sdist, target) pairs")
            ax.set_title("grades per night")
            share = ax.twinx()
            pct = [100.0 * n.counts.get("reproducible", 0) / max(1, sum(n.counts.values())) for n in report.trend]
            share.plot(list(xs), pct, color="#1565c0", marker="o", label="% reproducible")
            share.set_ylim(0, 105)
            share.set_ylabel("% reproducible")
            ax.legend(loc="upper left", fontsize=8, ncols=4, frameon=False, bbox_to_anchor=(0, -0.28))
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
        finally:
            plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _href(path: str) -> str:
    if path.startswith("/"):
        return "file://" + quote(path)
    return quote(path)


def _pct(n: float) -> str:
    return f"{n:.1f}%"


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.meta{color:#666}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border-radius:8px;padding:10px 16px;color:#fff;min-width:140px}
.card b{display:block;font-size:26px}.card.reclaim{background:#37474f}
table{border-collapse:collapse;width:100%;margin:4px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee;
vertical-align:top}th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grade{padding:1px 6px;border-radius:4px;color:#fff;font-size:12px}
.bar{display:flex;height:10px;width:160px;border-radius:3px;overflow:hidden;background:#eee}
.bar span{display:block;height:100%}td.nw{white-space:nowrap}.why{color:#555;font-size:12px;overflow-wrap:anywhere}code{font-size:12px}
"""


def _grade(g: str) -> str:
    return f'<span class="grade" style="background:{COLORS.get(g, "#555")}">{html.escape(g)}</span>'


def _bar(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    spans = "".join(f'<span style="width:{100 * counts.get(g, 0) / total:.1f}%;background:{COLORS[g]}"></span>'
                    for g in GRADES if counts.get(g))
    return f'<div class="bar">{spans}</div>'


def _link(link: Link | None) -> str:
    if link is None:
        return ""
    return f'<a href="{html.escape(_href(link.path))}">{html.escape(link.label)}</a>'


def to_html(report: Report) -> str:
    def e(text: str) -> str:
        return html.escape(text)

    t = report.totals
    out = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.title)} — {e(report.night)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        (f'<div class="meta">night <b id="night">{e(report.night)}</b> · generated {e(report.generated)} · '
         f"{t.total} (sdist, target) pairs</div>"),
        '<div class="cards" id="totals">',
    ]
    for g in GRADES:
        out.append(f'<div class="card" style="background:{COLORS[g]}" data-grade="{g}"><b>{t.count(g)}</b>'
                   f"{g} · {_pct(t.percent(g))}</div>")
    r = report.reclaimable
    out.append(f'<div class="card reclaim" id="reclaimable"><b>{e(human_bytes(r.stored_bytes))}</b>'
               f"eviction could reclaim ({r.files} wheels)</div></div>")

    out.append(f'<h2>Trend</h2><div id="trend">{trend_svg(report)}</div>')

    out.append(f'<h2>Regressions ({len(report.regressions)})</h2>')
    if report.regressions:
        out.append('<table id="regressions"><tr><th>kind</th><th>project</th><th>target</th><th>was reproducible</th>'
                   "<th>now</th><th>grade</th><th>why</th></tr>")
        for reg in report.regressions:
            out.append(f"<tr><td>{e(reg.kind)}</td><td>{e(reg.project)}</td><td>{e(reg.target)}</td>"
                       f"<td>{e(reg.before)}</td><td>{e(reg.now)}</td><td>{_grade(reg.grade)}</td>"
                       f"<td class=why>{e(reg.why)}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>None.</p>")

    out.append('<h2>Top causes</h2>')
    if report.causes:
        out.append('<table id="causes"><tr><th>cause</th><th>count</th><th>for example</th></tr>')
        for c in report.causes:
            out.append(f"<tr><td>{e(c.cause)}</td><td class=num>{c.count}</td>"
                       f"<td class=why>{e(', '.join(c.examples))}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>Everything reproducible.</p>")

    for title, ident, tallies in (("Per target", "by-target", report.by_target),
                                  ("Per project", "by-project", report.by_project)):
        out.append(f'<h2>{title}</h2><table id="{ident}"><tr><th></th><th>total</th>'
                   + "".join(f"<th>{g}</th>" for g in GRADES) + "<th></th></tr>")
        for tl in tallies:
            cells = "".join(f"<td class=num>{tl.count(g)} ({_pct(tl.percent(g))})</td>" for g in GRADES)
            out.append(f"<tr><td>{e(tl.label)}</td><td class=num>{tl.total}</td>{cells}<td>{_bar(tl.counts)}</td></tr>")
        out.append("</table>")

    out.append('<h2>Packages</h2><table id="rows"><tr><th>sdist</th><th>target</th><th>grade</th><th>published</th>'
               "<th>seconds</th><th>why</th><th>checked</th><th>logs</th></tr>")
    for w in report.rows:
        links = " ".join([_link(x) for x in w.logs] + ([_link(w.diffoscope)] if w.diffoscope else []))
        out.append(f"<tr><td class=nw>{e(w.sdist)}</td><td class=nw>{e(w.target)}</td><td>{_grade(w.grade)}</td>"
                   f"<td>{e(w.published or '')}</td><td class=num>{w.seconds:.1f}</td>"
                   f"<td class=why>{e(w.why)}</td><td class=why>{e(w.checked)}</td><td>{links}</td></tr>")
    out.append("</table></body></html>\n")
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_link(link: Link | None) -> str:
    return f"[{link.label}]({_href(link.path)})" if link else ""


def to_markdown(report: Report) -> str:
    t = report.totals
    lines = [f"# {report.title}", "", (f"Night **{report.night}**, generated {report.generated}: "
                                        f"{t.total} (sdist, target) pairs."), "", "| grade | count | % |", "|---|---:|---:|"]
    lines += [f"| {g} | {t.count(g)} | {_pct(t.percent(g))} |" for g in GRADES]
    r = report.reclaimable
    lines += ["", f"Eviction could reclaim **{human_bytes(r.stored_bytes)}** ({r.stored_bytes} bytes, {r.files} wheels).",
              "", "## Trend", "", "| night | " + " | ".join(GRADES) + " |", "|---|" + "---:|" * len(GRADES)]
    lines += [f"| {n.name} | " + " | ".join(str(n.counts.get(g, 0)) for g in GRADES) + " |" for n in report.trend]
    lines += ["", f"## Regressions ({len(report.regressions)})", ""]
    if report.regressions:
        lines += ["| kind | project | target | was reproducible | now | grade | why |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {g.kind} | {g.project} | {g.target} | {_md(g.before)} | {_md(g.now)} | {g.grade} | {_md(g.why)} |"
                  for g in report.regressions]
    else:
        lines.append("None.")
    lines += ["", "## Top causes", ""]
    if report.causes:
        lines += ["| cause | count | for example |", "|---|---:|---|"]
        lines += [f"| {_md(c.cause)} | {c.count} | {_md(', '.join(c.examples))} |" for c in report.causes]
    else:
        lines.append("Everything reproducible.")
    for title, tallies in (("Per target", report.by_target), ("Per project", report.by_project)):
        lines += ["", f"## {title}", "", "| | total | " + " | ".join(GRADES) + " |", "|---|---:|" + "---:|" * len(GRADES)]
        lines += [f"| {tl.label} | {tl.total} | " + " | ".join(f"{tl.count(g)} ({_pct(tl.percent(g))})" for g in GRADES)
                  + " |" for tl in tallies]
    lines += ["", "## Packages", "", "| sdist | target | grade | published | seconds | why | checked | logs |",
              "|---|---|---|---|---:|---|---|---|"]
    for w in report.rows:
        links = " ".join([_md_link(x) for x in w.logs] + ([_md_link(w.diffoscope)] if w.diffoscope else []))
        lines.append(f"| {_md(w.sdist)} | {w.target} | {w.grade} | {w.published or ''} | {w.seconds:.1f} | "
                     f"{_md(w.why)} | {_md(w.checked)} | {links} |")
    return "\n".join(lines) + "\n"
