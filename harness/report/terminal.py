"""The end-of-run summary: a case x cell table of classes, counts, and the failures' details."""

from collections import Counter
from typing import Dict, List

from rich.console import Console
from rich.table import Table

from ..classify import Result
from ..outcome import Outcome

STYLE = {Outcome.PASS: "green", Outcome.XFAIL: "cyan", Outcome.UNSUPPORTED: "dim",
         Outcome.ENV: "yellow", Outcome.HARNESS: "magenta", Outcome.INVALID: "magenta",
         Outcome.XPASS: "red", Outcome.FP_EXTRA: "red", Outcome.FP_SYNTAX: "red",
         Outcome.FN_MISSING: "red", Outcome.FN_VERIFIER: "red", Outcome.WRONG_READ: "bold red",
         Outcome.FP_REFUSED: "red", Outcome.REJECTED: "yellow"}


def matrix_table(results: List[Result]) -> Table:
    """Cases down, cells across; with several rewriters and kernels, (case, rewriter) down and kernels
    across, so the 16-cell matrix stays readable in a terminal."""
    cells = list(dict.fromkeys(r.cell for r in results if "@" in r.cell))
    rewriters = list(dict.fromkeys(c.split("@")[0] for c in cells))
    kernels = list(dict.fromkeys(c.split("@")[1] for c in cells))
    cases = list(dict.fromkeys(r.case_id for r in results))
    by: Dict[tuple, Result] = {(r.case_id, r.cell): r for r in results}

    def mark(r):
        return f"[{STYLE[r.outcome]}]{r.label}[/]" if r else ""

    if len(rewriters) > 1 and len(kernels) > 1:
        table = Table(title="case x rewriter x kernel")
        table.add_column("case")
        table.add_column("rewriter")
        for k in kernels:
            table.add_column(k, justify="center")
        for case in cases:
            for i, rw in enumerate(rewriters):
                table.add_row(case if i == 0 else "", rw, *[mark(by.get((case, f"{rw}@{k}"))) for k in kernels],
                              end_section=i == len(rewriters) - 1)
        return table
    table = Table(title="case x cell")
    table.add_column("case")
    for cell in cells:
        table.add_column(cell, justify="center")
    for case in cases:
        table.add_row(case, *[mark(by.get((case, cell))) for cell in cells])
    return table


def group_table(results: List[Result]) -> Table:
    """Classes per case folder (sources/, maps/, ...): where the findings are."""
    groups = sorted({r.case_id.split("/")[0] for r in results})
    present = [o for o in Outcome if any(r.outcome is o for r in results)]
    table = Table(title="classes per case group")
    table.add_column("group")
    for o in present:
        table.add_column(o.label, justify="right")
    counts = Counter((r.case_id.split("/")[0], r.outcome) for r in results)
    for g in groups:
        table.add_row(g, *[str(counts[(g, o)] or "") for o in present])
    return table


def counts_line(results: List[Result]) -> str:
    c = Counter(r.outcome for r in results)
    return ", ".join(f"{c[o]} {o.label}" for o in Outcome if c[o])


def print_summary(results: List[Result], console: Console = None, details: bool = True) -> None:
    console = console or Console()
    console.print(matrix_table(results))
    if len({r.case_id.split("/")[0] for r in results}) > 1:
        console.print(group_table(results))
    for r in results:
        if r.outcome.is_failure or (details and r.outcome is Outcome.XFAIL):
            console.print(f"[{STYLE[r.outcome]}]{r.label}[/] {r.case_id} @ {r.cell}: {r.message}",
                          markup=True, highlight=False, soft_wrap=True)
            if r.outcome.is_failure and r.details:
                console.print(r.details.rstrip(), markup=False, highlight=False)
    # Cases the runtime checks skipped (no ATTACH, no sites) would only add noise here.
    oracle_notes = [r for r in results if r.oracle and not (r.oracle.startswith("not run:") and ";" not in r.oracle)]
    if oracle_notes:
        table = Table(title="runtime checks (value oracle, EXPECT-MAP)")
        for col in ("case", "cell", "oracle"):
            table.add_column(col, overflow="fold")
        for r in oracle_notes:
            table.add_row(r.case_id, r.cell, r.oracle)
        console.print(table)
    console.print(counts_line(results), highlight=False)
