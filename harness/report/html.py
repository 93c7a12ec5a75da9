"""One self-contained HTML file (inline CSS and SVG, no script, nothing fetched) about a run and the
history behind it: the case x cell heatmap, false positives and negatives per bcc release and per kernel,
trends over runs, regressions and fixes, and for every failure the case with its sites, bcc's rewritten
text with the sites marked, and the verifier log."""

import html
from collections import Counter, OrderedDict
from typing import Dict, List, Sequence, Tuple

from ..history import Change, History, Row
from ..outcome import Outcome
from ..sites import compact

COLORS = {"PASS": "#2e7d32", "XFAIL": "#00838f", "UNSUPPORTED": "#9e9e9e", "ENV": "#f9a825",
          "HARNESS": "#8e24aa", "INVALID": "#8e24aa", "XPASS": "#c62828", "FP-EXTRA": "#ef6c00",
          "FP-SYNTAX": "#d84315", "FN-MISSING": "#c62828", "FN-VERIFIER": "#b71c1c", "WRONG-READ": "#4a148c",
          "FP-REFUSED": "#e65100", "REJECTED": "#f9a825"}
FAMILIES = OrderedDict([("FP", ("FP-EXTRA", "FP-SYNTAX", "FP-REFUSED")), ("FN", ("FN-MISSING", "FN-VERIFIER")),
                        ("WRONG-READ", ("WRONG-READ",))])
FAMILY_COLORS = {"FP": "#ef6c00", "FN": "#c62828", "WRONG-READ": "#4a148c"}
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table.heat{border-collapse:collapse} table.heat td,table.heat th{border:1px solid #fff;padding:3px 6px;font-size:12px}
table.heat th{background:#eee} td.c{color:#fff;text-align:center;font-weight:600}
.legend span{display:inline-block;color:#fff;padding:2px 6px;margin:2px;border-radius:3px;font-size:12px}
pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px;line-height:1.35}
mark.ok{background:#c8e6c9} mark.miss{background:#ffcdd2;outline:1px solid #c62828}
mark.extra{background:#ffe0b2;outline:1px solid #ef6c00} .rw{background:#fff3e0}
details{margin:8px 0;border:1px solid #ddd;border-radius:4px;padding:6px 10px} summary{cursor:pointer;font-weight:600}
.charts{display:flex;gap:32px;flex-wrap:wrap} table.list td{padding:2px 8px;border-bottom:1px solid #eee}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _label(r: Row) -> str:
    return r.outcome.label


def _family(r: Row) -> str:
    raw = (r.raw_outcome or r.outcome).label
    return next((f for f, members in FAMILIES.items() if raw in members), "")


def heatmap(rows: List[Row]) -> str:
    cells = list(dict.fromkeys(r.cell for r in rows))
    cases = list(dict.fromkeys(r.case_id for r in rows))
    by = {(r.case_id, r.cell): r for r in rows}
    head = "".join(f"<th>{_e(c.replace('@', ' @ '))}</th>" for c in cells)
    body = []
    for case in cases:
        tds = []
        for cell in cells:
            r = by.get((case, cell))
            if r is None:
                tds.append("<td></td>")
                continue
            tds.append(f'<td class="c" style="background:{COLORS[_label(r)]}" title="{_e(r.message)}">'
                       f'<a style="color:#fff;text-decoration:none" href="#{_anchor(r)}">{_e(_label(r))}</a></td>')
        body.append(f"<tr><th style='text-align:left'>{_e(case)}</th>{''.join(tds)}</tr>")
    legend = "".join(f'<span style="background:{c}">{_e(k)}</span>' for k, c in COLORS.items())
    return (f'<div class="legend">{legend}</div><table class="heat"><tr><th>case</th>{head}</tr>'
            f'{"".join(body)}</table>')


def _anchor(r: Row) -> str:
    return "f-" + "".join(ch if ch.isalnum() else "-" for ch in f"{r.case_id}-{r.cell}")


def _legend(series: Dict[str, List[int]], pad: int, height: int) -> List[str]:
    return [f'<rect x="{pad + si * 110}" y="{height - 14}" width="10" height="10" '
            f'fill="{FAMILY_COLORS.get(name, "#555")}"/><text x="{pad + si * 110 + 14}" y="{height - 5}" '
            f'font-size="11">{_e(name)}</text>' for si, name in enumerate(series)]


def bars(title: str, groups: Sequence[str], series: Dict[str, List[int]]) -> str:
    """A grouped bar chart as inline SVG."""
    width, height, pad = max(260, 90 * len(groups) + 60), 220, 30
    top = max([1] + [v for vals in series.values() for v in vals])
    bar_w = 60 / max(1, len(series))
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="4" y="14" font-size="13" font-weight="600">{_e(title)}</text>']
    for gi, group in enumerate(groups):
        x0 = pad + gi * 90
        for si, (name, vals) in enumerate(series.items()):
            v = vals[gi]
            h = (height - 70) * v / top
            x = x0 + si * bar_w
            parts.append(f'<rect x="{x:.0f}" y="{height - 40 - h:.0f}" width="{bar_w - 2:.0f}" height="{h:.0f}" '
                         f'fill="{FAMILY_COLORS.get(name, "#555")}"><title>{_e(name)}: {v}</title></rect>')
            parts.append(f'<text x="{x + bar_w / 2 - 4:.0f}" y="{height - 44 - h:.0f}" font-size="10">{v}</text>')
        parts.append(f'<text x="{x0}" y="{height - 24}" font-size="11">{_e(group)}</text>')
    parts += _legend(series, pad, height)
    parts.append("</svg>")
    return "".join(parts)


def lines(title: str, xs: List[str], series: Dict[str, List[int]]) -> str:
    """A line chart over runs as inline SVG."""
    width, height, pad = max(360, 60 * len(xs) + 80), 240, 40
    top = max([1] + [v for vals in series.values() for v in vals])
    step = (width - 2 * pad) / max(1, len(xs) - 1)
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="4" y="14" font-size="13" font-weight="600">{_e(title)}</text>',
             f'<line x1="{pad}" y1="{height - 40}" x2="{width - pad}" y2="{height - 40}" stroke="#999"/>']
    for name, vals in series.items():
        pts = [(pad + i * step, height - 40 - (height - 80) * v / top) for i, v in enumerate(vals)]
        color = FAMILY_COLORS.get(name, "#555")
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                     + " ".join(f"{x:.0f},{y:.0f}" for x, y in pts) + '"/>')
        for (x, y), v in zip(pts, vals):
            parts.append(f'<circle cx="{x:.0f}" cy="{y:.0f}" r="3" fill="{color}"><title>{_e(name)}: {v}</title></circle>')
    every = max(1, len(xs) // 10)
    for i, x in enumerate(xs):
        if i % every == 0 or i == len(xs) - 1:
            parts.append(f'<text x="{pad + i * step - 6:.0f}" y="{height - 24}" font-size="10">#{i + 1}'
                         f'<title>{_e(x)}</title></text>')
    parts += _legend(series, pad, height)
    parts.append("</svg>")
    return "".join(parts)


def family_counts(rows: List[Row], key) -> Tuple[List[str], Dict[str, List[int]]]:
    groups = sorted({key(r) for r in rows})
    counts = Counter((key(r), _family(r)) for r in rows)
    return groups, {f: [counts[(g, f)] for g in groups] for f in FAMILIES}


def marked_case(text: str, row: Row) -> str:
    """The case with expected sites (green), missing (red) and extra (orange) marked."""
    extra = {(x[0], compact(x[1])) for x in row.extra}
    marks: Dict[int, List[Tuple[int, int, str]]] = {}
    for line, col, site_text, _form, _rw in row.actual:
        kind = "extra" if (line, compact(site_text)) in extra else "ok"
        marks.setdefault(line, []).append((col, col + len(site_text.encode()), kind))
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        raw = line.encode()
        spans = sorted(marks.get(n, []))
        chunks, pos = [], 0
        for start, end, kind in spans:
            s, e = start - 1, end - 1
            if s < pos:
                continue
            chunks.append(_e(raw[pos:s].decode(errors="replace")))
            chunks.append(f'<mark class="{kind}">{_e(raw[s:e].decode(errors="replace"))}</mark>')
            pos = e
        chunks.append(_e(raw[pos:].decode(errors="replace")))
        missing_here = [m for m in row.missing if m[0] == n]
        note = "".join(f' <mark class="miss">missing: {_e(m[1])}</mark>' for m in missing_here)
        out.append(f"{n:4} | {''.join(chunks)}{note}")
    return "\n".join(out)


def marked_rewritten(text: str, row: Row) -> str:
    lines_with_sites = {a[4] for a in row.actual}
    return "\n".join(f'<span class="rw">{_e(ln)}</span>' if n in lines_with_sites else _e(ln)
                     for n, ln in enumerate(text.splitlines(), 1))


def failure_section(history: History, r: Row) -> str:
    case_text = history.artifact(r.artifacts.get("case"))
    rewritten = history.artifact(r.artifacts.get("rewritten"))
    logs = [(k.split(":", 1)[1], history.artifact(v)) for k, v in sorted(r.artifacts.items())
            if k.startswith("verifier:")]
    parts = [f'<details id="{_anchor(r)}"><summary><span style="color:{COLORS[_label(r)]}">{_e(_label(r))}</span> '
             f'{_e(r.case_id)} @ {_e(r.cell)}</summary><p>{_e(r.message)}</p>']
    if r.oracle:
        parts.append(f"<p>value oracle: {_e(r.oracle)}</p>")
    if r.details:
        parts.append(f"<pre>{_e(r.details)}</pre>")
    if case_text:
        parts.append(f"<h4>case (green: rewritten as expected, orange: extra, red: missing)</h4>"
                     f"<pre>{marked_case(case_text, r)}</pre>")
    if rewritten:
        parts.append(f"<h4>rewritten by bcc {_e(r.bcc)} (lines with rewrite sites shaded)</h4>"
                     f"<pre>{marked_rewritten(rewritten, r)}</pre>")
    for name, log in logs:
        if log.strip():
            parts.append(f"<h4>verifier log: {_e(name)}</h4><pre>{_e(log)}</pre>")
    parts.append("</details>")
    return "".join(parts)


def render(history: History, run_id: str) -> str:
    rows = history.rows(run_id)
    everything = history.rows()
    counts = Counter(_label(r) for r in rows)
    summary = ", ".join(f"{counts[o.label]} {o.label}" for o in Outcome if counts[o.label])
    groups_r, series_r = family_counts(rows, lambda r: f"bcc {r.bcc}")
    groups_k, series_k = family_counts(rows, lambda r: f"linux {r.kernel}")
    run_ids = [rid for rid, _ in history.runs()]
    per_run = {rid: Counter(_family(r) for r in everything if r.run_id == rid) for rid in run_ids}
    trend = {f: [per_run[rid][f] for rid in run_ids] for f in FAMILIES}
    changes: List[Change] = history.changes(run_id)
    change_rows = "".join(
        f"<tr><td>{_e(c.kind)}</td><td>{_e(c.case_id)}</td><td>{_e(c.cell)}</td>"
        f"<td>{_e(c.before.label)} &rarr; {_e(c.after.label)}</td><td>{_e(c.cause)}</td></tr>" for c in changes)
    failures = [r for r in rows if r.outcome.is_failure or r.outcome is Outcome.XFAIL]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bcc rewriter harness: run {_e(run_id)}</title>
<style>{CSS}</style></head><body>
<h1>bcc rewriter harness &mdash; run {_e(run_id)}</h1>
<p>{len(rows)} results in {len({r.cell for r in rows})} cells: {_e(summary)}</p>
<h2>Case &times; cell</h2>{heatmap(rows)}
<h2>False positives, false negatives and wrong reads</h2>
<p>Counted by what happened, XFAIL included (a known bug is still a bug of that release).</p>
<div class="charts">{bars("per bcc release", groups_r, series_r)}{bars("per kernel", groups_k, series_k)}</div>
<h2>Over runs</h2><div class="charts">{lines("per run (#1 is the oldest in this history)", run_ids, trend)}</div>
<h2>Changes against the most recent earlier run</h2>
{('<table class="list"><tr><th>kind</th><th>case</th><th>cell</th><th>class</th><th>cause</th></tr>'
  + change_rows + '</table>') if changes else '<p>none</p>'}
<h2>Failures and expected failures</h2>
{"".join(failure_section(history, r) for r in failures) or "<p>none</p>"}
</body></html>
"""
