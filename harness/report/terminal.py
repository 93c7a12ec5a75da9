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
         Outcome.FN_MISSING: "red", Outcome.FN_VERIFIER: "red"}


def matrix_table(results: List[Result]) -> Table:
    cells = list(dict.fromkeys(r.cell for r in results))
    cases = list(dict.fromkeys(r.case_id for r in results))
    by: Dict[tuple, Result] = {(r.case_id, r.cell): r for r in results}
    table = Table(title="case x cell", show_lines=False)
    table.add_column("case")
    for cell in cells:
        table.add_column(cell, justify="center")
    for case in cases:
        row = [case]
        for cell in cells:
            r = by.get((case, cell))
            row.append(f"[{STYLE[r.outcome]}]{r.label}[/]" if r else "")
        table.add_row(*row)
    return table


def counts_line(results: List[Result]) -> str:
    c = Counter(r.outcome for r in results)
    return ", ".join(f"{c[o]} {o.label}" for o in Outcome if c[o])


def print_summary(results: List[Result], console: Console = None, details: bool = True) -> None:
    console = console or Console()
    console.print(matrix_table(results))
    for r in results:
        if r.outcome.is_failure or (details and r.outcome is Outcome.XFAIL):
            console.print(f"[{STYLE[r.outcome]}]{r.label}[/] {r.case_id} @ {r.cell}: {r.message}",
                          markup=True, highlight=False, soft_wrap=True)
            if r.outcome.is_failure and r.details:
                console.print(r.details.rstrip(), markup=False, highlight=False)
    console.print(counts_line(results), highlight=False)
