"""A comparison of two rewriters (compare.py) as one self-contained HTML file, and as a Markdown table."""

import html
from typing import List, Sequence

from ..compare import Comparison, Verdict, counts, interesting

VERDICT_COLORS = {Verdict.FIXED: "#2e7d32", Verdict.REGRESSED: "#c62828", Verdict.CHANGED: "#ef6c00",
                  Verdict.UNCHANGED: "#9e9e9e", Verdict.UNRESOLVED: "#8e24aa"}
assert set(VERDICT_COLORS) == set(Verdict)
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse} td,th{border-bottom:1px solid #eee;padding:4px 8px;vertical-align:top;font-size:13px}
th{background:#eee;text-align:left} .v{color:#fff;font-weight:600;border-radius:3px;padding:2px 6px}
code{background:#f6f8fa;font-size:12px} .bar{display:flex;height:22px;margin:8px 0;max-width:900px}
.bar div{color:#fff;font-size:12px;text-align:center;line-height:22px;overflow:hidden}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _class(r) -> str:
    raw = r.raw_outcome or r.outcome
    return raw.label if raw is r.outcome else f"{r.outcome.label} ({raw.label})"


def _sites(c: Comparison) -> str:
    rows = [f"<div>{s.line}: <code>{_e(s.expr)}</code><br>before <code>{_e(s.before or '(no rewrite)')}</code>"
            f"<br>after&nbsp; <code>{_e(s.after or '(no rewrite)')}</code></div>" for s in c.sites if s.differs]
    return "".join(rows) or "same rewrites"


def render_comparison(comparisons: Sequence[Comparison], a: str, b: str, kernels: List[str]) -> str:
    found = counts(comparisons)
    total = max(1, len(comparisons))
    bar = "".join(f'<div style="width:{100 * n / total:.1f}%;background:{VERDICT_COLORS[v]}" '
                  f'title="{n} {v.value}">{n} {v.value}</div>' for v, n in found.items() if n)
    rows = "".join(
        f"<tr><td>{_e(c.case_id)}</td><td>{_e(c.kernel)}</td>"
        f'<td><span class="v" style="background:{VERDICT_COLORS[c.verdict]}">{c.verdict.value}</span></td>'
        f"<td>{_e(_class(c.before))}<br><small>{_e(c.before.message)}</small></td>"
        f"<td>{_e(_class(c.after))}<br><small>{_e(c.after.message)}</small></td><td>{_sites(c)}</td></tr>"
        for c in interesting(comparisons))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>compare {_e(a)} -> {_e(b)}</title>"
            f"<style>{CSS}</style></head><body><h1>{_e(a)} &rarr; {_e(b)}</h1>"
            f"<p>on {_e(', '.join(kernels))}: {len(comparisons)} case x kernel pairs</p><div class='bar'>{bar}</div>"
            f"<table><tr><th>case</th><th>kernel</th><th>verdict</th><th>{_e(a)}</th><th>{_e(b)}</th>"
            f"<th>rewrite sites that changed</th></tr>{rows}</table>"
            f"<p>Unchanged pairs with the same rewrites are not listed.</p></body></html>\n")


def render_markdown(comparisons: Sequence[Comparison], a: str, b: str) -> str:
    lines = [f"| case | kernel | verdict | {a} | {b} | rewrite that changed (before → after) |",
             "|---|---|---|---|---|---|"]
    for c in interesting(comparisons):
        sites = "<br>".join(f"`{s.expr}`: `{s.before or '(none)'}` → `{s.after or '(none)'}`"
                            for s in c.sites if s.differs)
        lines.append(f"| {c.case_id} | {c.kernel} | {c.verdict.value} | {_class(c.before)} | {_class(c.after)} "
                     f"| {sites.replace('|', '&#124;')} |")
    found = counts(comparisons)
    lines.append("")
    lines.append("Totals: " + ", ".join(f"{n} {v.value}" for v, n in found.items()) +
                 f" ({len(comparisons)} case x kernel pairs).")
    return "\n".join(lines) + "\n"
