"""`show CASE`: the original with its sites marked, the rewritten text, and the logs of the last run."""

from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from .cases import Case
from .classify import Result
from .observation import Observation
from .sites import compact


def marked_source(case: Case, result: Result) -> Text:
    """Original lines, each site underlined: green expected and rewritten, red missing, yellow extra."""
    missing = {(line, compact(text)) for line, text in result.missing}
    extra = {(line, compact(text)) for line, text in result.extra}
    marks = {}
    for s in case.sites:
        style = "bold red underline" if (s.line, compact(s.text)) in missing else "bold green underline"
        marks.setdefault(s.line, []).append((s.col, s.col + len(s.text.encode()), style))
    for s in result.actual_sites:
        if (s.line, compact(s.text)) in extra and s.line == s.end_line:
            marks.setdefault(s.line, []).append((s.col, s.end_col, "bold yellow underline"))
    out = Text()
    for n, line in enumerate(case.text.splitlines(), 1):
        text = Text(f"{n:4} | {line}\n")
        raw = line.encode()
        for col, end, style in marks.get(n, ()):
            start = len(raw[:col - 1].decode(errors="ignore")) + 7
            stop = len(raw[:end - 1].decode(errors="ignore")) + 7
            text.stylize(style, start, stop)
        out.append(text)
    return out


def render_show(console: Console, case: Optional[Case], result: Result, obs: Optional[Observation],
                run_path: Path) -> None:
    console.rule(escape(f"{result.case_id} @ {result.cell}"))
    console.print(Text.assemble((result.label, result.outcome.style), f"  {result.message}"))
    if result.oracle:
        console.print(f"runtime checks: {result.oracle}", markup=False, highlight=False)
    if result.versions:
        console.print("versions: " + ", ".join(f"{k} {v}" for k, v in result.versions.items() if v),
                      markup=False, highlight=False)
    if case:
        console.print("[bold]original[/] (green: expected and rewritten, red: expected but missing, "
                      "yellow: rewritten but not expected)")
        console.print(marked_source(case, result))
    if result.details:
        console.print(result.details.rstrip(), markup=False, highlight=False)
    if obs is None:
        console.print(f"(no observation stored in {run_path})", markup=False)
        return
    if obs.rewritten:
        console.print("[bold]rewritten by bcc[/]")
        console.print(obs.rewritten, markup=False, highlight=False)
    errors = [d for d in obs.diagnostics if d.severity != "note"]
    if errors:
        console.print("[bold]compiler diagnostics[/]")
        for d in errors:
            console.print(f"  pass {d.phase}: {d.render()}", markup=False, highlight=False)
    for fn in obs.functions:
        verdict = "loaded" if fn.loaded else f"rejected: {fn.error}"
        console.print(f"[bold]{escape(fn.name)}[/] " + escape(f"({fn.prog_type}): {verdict}; {fn.insns} insns, "
                                                           f"probe reads {fn.probe_reads or 0}"), highlight=False)
        if fn.verifier_log.strip():
            console.print(fn.verifier_log.rstrip(), markup=False, highlight=False)
    console.print(f"run: {run_path}", markup=False, highlight=False)
