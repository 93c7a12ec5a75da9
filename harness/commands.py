"""What each CLI command does, in terms of the pipeline's stages."""

import json
import re
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from . import setup as host_setup
from .backends import backend_for, resolve_mode
from .history import History, HistoryError, record_rundir
from .cases import CaseError, load_cases
from .images.build import ImageError, describe, kernel_image, rewriter_image
from .images.store import images_root, list_images
from .matrix import MatrixError, load_matrix
from .fidelity import oracle_verdict
from .oracle_stage import coverage_table as oracle_coverage_table
from .outcome import Outcome
from .paths import project_root
from .pipeline import invalid_results, run_cell, run_matrix, to_history
from .report.terminal import print_summary
from .show import render_show
from .store import RunDir, last_results_for

CASES_ROOT = project_root() / "cases"
EXIT_OK, EXIT_FAILURES, EXIT_HARNESS = 0, 1, 2


@contextmanager
def rich_progress(console: Console) -> Iterator:
    """A progress callback drawing one bar per task (image build, cell)."""
    bars = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[detail]}", markup=False), TimeElapsedColumn(),
                    TimeRemainingColumn(compact=True), console=console, transient=False)
    tasks: Dict[str, int] = {}

    def progress(task: str, done: int, total: Optional[int], detail: str = "") -> None:
        if task not in tasks:
            tasks[task] = bars.add_task(task, total=total, detail=detail)
        bars.update(tasks[task], completed=done, total=total, detail=detail)

    with bars:
        yield progress


def _cells(names: Optional[List[str]]):
    try:
        return load_matrix().select(names)
    except MatrixError as e:
        print(f"error: {e}", file=sys.stderr)
        return None


def cmd_run(args) -> int:
    console = Console(stderr=False)
    cells = _cells(args.cell)
    if cells is None:
        return EXIT_HARNESS
    if not host_setup.ensure(install=False, echo=lambda m: console.print(m, markup=False)):
        return EXIT_HARNESS
    root = args.cases_root or CASES_ROOT
    loaded = load_cases(args.cases or [root], root)
    for e in loaded.errors:
        console.print(f"[magenta]INVALID[/] {escape(str(e))}", highlight=False)
    mode = resolve_mode(args.mode)
    oracle_cells = set()
    if args.oracle:
        wanted = args.oracle_cell or load_matrix().oracle_cells
        oracle_cells = {c.name for c in cells} if "all" in wanted else set(wanted) & {c.name for c in cells}
        if not oracle_cells:
            console.print(f"note: --oracle runs in {', '.join(wanted)} (vms/matrix.toml oracle_cells), none of "
                          f"which is selected; pass --oracle-cell to choose", markup=False, highlight=False)
    if args.dry_run:
        print_plan(console, cells, loaded.cases, mode, oracle_cells)
        return EXIT_OK if not loaded.errors else EXIT_FAILURES
    run = RunDir.create(sys.argv, mode=mode)
    run.record_cases(loaded.cases)
    results = invalid_results(loaded.errors, cells, root)
    run.record_results(results)
    to_history(run)
    console.print(f"{len(loaded.cases)} cases x {len(cells)} cells, {mode} mode, -j {args.jobs}",
                  highlight=False)
    with rich_progress(console) as progress:
        found, interrupted = run_matrix(cells, list(loaded.cases), mode, run, progress, args.jobs,
                                        args.case_timeout, not args.no_cache, oracle_cells,
                                        share_headers=args.share_headers)
    results += found
    print_summary(results, console)
    coverage = oracle_coverage_table(run.path)
    if coverage is not None:
        console.print(coverage)
    console.print(f"results: {run.path}", markup=False, highlight=False)
    if interrupted:
        console.print("interrupted: finished results are kept; run again to finish the rest")
        return 130
    return exit_code(results)


def print_plan(console: Console, cells, cases, mode: str, oracle_cells) -> None:
    """What `run --dry-run` shows: the cells and cases a run would take, nothing built or booted."""
    console.print(f"dry run: {len(cases)} cases x {len(cells)} cells, {mode} mode", highlight=False)
    for cell in cells:
        console.print(f"cell {cell.name}" + (" (oracle)" if cell.name in oracle_cells else ""), highlight=False)
    for case in cases:
        console.print(f"case {case.id}", highlight=False)


def exit_code(results) -> int:
    if any(r.outcome in (Outcome.HARNESS, Outcome.INVALID) for r in results):
        return EXIT_HARNESS
    return EXIT_FAILURES if any(r.outcome.is_failure for r in results) else EXIT_OK


def cmd_fidelity(args) -> int:
    """Run the cases in guest mode and in split mode on one cell; list every difference."""
    from rich.table import Table
    from .fidelity import compare
    console = Console()
    cells = _cells([args.cell] if args.cell else None)
    if cells is None:
        return EXIT_HARNESS
    cell = cells[0]
    loaded = load_cases(args.cases or [CASES_ROOT / "seed"], CASES_ROOT)
    run = RunDir.create(sys.argv, mode="fidelity")
    outcomes = {}
    with rich_progress(console) as progress:
        for mode in ("guest", "split"):
            bars = lambda task, *a, mode=mode: progress(f"{mode}: {task}", *a)   # one set of bars per mode
            out = run_cell(cell, list(loaded.cases), backend_for(mode), run.cell_dir(f"{cell.name}-{mode}"),
                           bars, args.case_timeout, use_cache=not args.no_cache, oracle=not args.no_oracle)
            outcomes[mode] = out
            run.record_observations(f"{cell.name}-{mode}", list(out.observations))
    by = {m: ({o.case_id: o for o in out.observations}, {r.case_id: r for r in out.results})
          for m, out in outcomes.items()}
    table = Table(title=f"fidelity on {cell.name}: guest mode vs split mode")
    for col in ("case", "differs in", "guest", "split"):
        table.add_column(col, overflow="fold")
    differences = []
    for case in loaded.cases:
        diffs = compare(case, by["guest"][0].get(case.id), by["split"][0].get(case.id),
                        by["guest"][1].get(case.id), by["split"][1].get(case.id))
        differences += diffs
        for d in diffs:
            table.add_row(*map(escape, (d.case_id, d.what, d.guest, d.split)))
        if not diffs:
            shown = [by[m][1][case.id] for m in ("guest", "split")]
            table.add_row(escape(case.id), "[green]nothing[/]",
                          *(escape(f"{r.label}" + (f"; {r.oracle}" if r.oracle else "")) for r in shown))
    console.print(table)
    g, s = outcomes["guest"], outcomes["split"]
    console.print(f"guest mode {g.seconds:.0f}s, split mode {s.seconds:.0f}s; "
                  f"{len(differences)} difference(s) in {len(loaded.cases)} cases", highlight=False)
    return EXIT_OK if not differences else EXIT_FAILURES


def _open_history(args) -> Optional[History]:
    """The history the command names (--history) or the default one; None after printing why not."""
    try:
        return History(Path(args.history) if getattr(args, "history", None) else None)
    except HistoryError as e:
        print(f"error: {e}", file=sys.stderr)
        return None


def cmd_import(args) -> int:
    """Merge run directories produced elsewhere (CI artifacts) into the history; idempotent."""
    history = _open_history(args)
    if history is None:
        return EXIT_HARNESS
    status = EXIT_OK
    imported = []
    for path in args.results:
        candidates = [path] if (path / "run.json").exists() else \
            sorted(p.parent for p in path.glob("*/run.json") if not p.parent.is_symlink())
        if not candidates:
            print(f"error: {path}: no run directory (run.json) here", file=sys.stderr)
            status = EXIT_HARNESS
        for run_path in candidates:
            try:
                added = record_rundir(history, run_path)
                imported.append(json.loads((run_path / "run.json").read_text())["id"])
                print(f"{run_path.name}: {added} new result(s)")
            except (HistoryError, ValueError, OSError) as e:
                print(f"error: {run_path}: {e}", file=sys.stderr)
                status = EXIT_HARNESS
    if args.fail_on_regression:
        regressions = [c for run_id in imported for c in history.changes(run_id) if c.kind == "regression"]
        for c in regressions:
            print(f"REGRESSION {c.case_id} @ {c.cell}: {c.before.label} -> {c.after.label} ({c.cause})")
        if regressions and status == EXIT_OK:
            status = EXIT_FAILURES
    return status


def cmd_matrix(args) -> int:
    """The matrix's cells as JSON (the nightly workflow builds its job matrix from this)."""
    matrix = load_matrix()
    cells = matrix.nightly_source_cells() if args.nightly_sources else matrix.select(["all"] if not args.cell else args.cell)
    print(json.dumps([c.name for c in cells]) if args.json else "\n".join(c.name for c in cells))
    return EXIT_OK


def cmd_diff(args) -> int:
    history = _open_history(args)
    if history is None:
        return EXIT_HARNESS
    try:
        a, b = history.resolve_run(args.run_a), history.resolve_run(args.run_b)
    except HistoryError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    changes = history.changes(b, against=a)
    console = Console()
    from rich.table import Table
    table = Table(title=escape(f"{a} -> {b}"))
    for col in ("kind", "case", "cell", "class", "cause"):
        table.add_column(col)
    for c in changes:
        style = {"regression": "red", "fix": "green"}.get(c.kind, "yellow")
        table.add_row(f"[{style}]{c.kind}[/]", escape(c.case_id), escape(c.cell),
                      f"{c.before.label} -> {c.after.label}", escape(c.cause))
    console.print(table)
    regressions = [c for c in changes if c.kind == "regression"]
    console.print(f"{len(regressions)} regression(s), {sum(c.kind == 'fix' for c in changes)} fix(es), "
                  f"{sum(c.kind == 'change' for c in changes)} other change(s)", highlight=False)
    return EXIT_FAILURES if regressions else EXIT_OK


def cmd_trends(args) -> int:
    from collections import Counter
    from rich.table import Table
    from .report.html import FAMILIES, _family
    history = _open_history(args)
    if history is None:
        return EXIT_HARNESS
    rows = history.rows()
    console = Console()
    for title, key in (("per bcc release", lambda r: r.bcc), ("per kernel", lambda r: r.kernel),
                       ("per run", lambda r: r.run_id)):
        table = Table(title=f"false positives / false negatives / wrong reads {title}")
        table.add_column(title.split()[-1])
        for f in FAMILIES:
            table.add_column(f, justify="right")
        table.add_column("results", justify="right")
        counts = Counter((key(r), _family(r)) for r in rows)
        totals = Counter(key(r) for r in rows)
        for group in sorted(totals):
            table.add_row(escape(group), *[str(counts[(group, f)]) for f in FAMILIES], str(totals[group]))
        console.print(table)
    return EXIT_OK


def cmd_report(args) -> int:
    from .report import exports, html as html_report
    history = _open_history(args)
    if history is None:
        return EXIT_HARNESS
    try:
        run_id = history.resolve_run(args.run)
    except HistoryError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    rows = history.rows(run_id)
    outputs = {args.html: lambda: html_report.render(history, run_id), args.junit: lambda: exports.junit(rows),
               args.csv: lambda: exports.programs_csv(rows), args.jsonl: lambda: exports.jsonl(rows)}
    for path, make in outputs.items():
        if path:
            path.write_text(make())
            print(f"wrote {path}")
    return EXIT_OK


def cmd_import_tools(args) -> int:
    from .tools_import import import_tools
    console = Console()
    matrix = load_matrix()
    if args.rewriter not in matrix.rewriters:
        print(f"error: unknown rewriter {args.rewriter!r} ({', '.join(matrix.rewriters)})", file=sys.stderr)
        return EXIT_HARNESS
    with rich_progress(console) as progress:
        result = import_tools(matrix, args.rewriter, CASES_ROOT, progress)
    console.print(f"bpfcc-tools {result.version}: {len(result.written)} tool(s) written as cases under "
                  f"cases/tools/{args.rewriter}/, {len(result.skipped)} not extracted:", markup=False, highlight=False)
    for tool, why in result.skipped:
        console.print(f"  {tool}: {why}", markup=False, highlight=False)
    loaded = load_cases([CASES_ROOT / "tools" / args.rewriter], CASES_ROOT)
    for e in loaded.errors:
        console.print(f"  written but not a usable case: {e}", markup=False, highlight=False)
    return EXIT_OK


def _triage_cells(args):
    matrix = load_matrix()
    cells = matrix.select(args.cell or ["all"])
    if args.rewriter:
        cells = [c for c in cells if c.rewriter.name in args.rewriter]
    if args.kernel:
        cells = [c for c in cells if c.kernel.name in args.kernel]
    return matrix, cells


def cmd_triage(args) -> int:
    import tempfile
    from rich.table import Table
    from . import triage
    console = Console()
    try:
        matrix, cells = _triage_cells(args)
    except MatrixError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    if not cells:
        print("error: no cell selected", file=sys.stderr)
        return EXIT_HARNESS
    mode = resolve_mode(args.mode)
    name = re.sub(r"[^A-Za-z0-9_]+", "_", args.file.stem).strip("_") or "report"
    work = Path(tempfile.mkdtemp(prefix=f"harness-triage-{name}-"))
    with rich_progress(console) as progress:
        try:
            text, how = triage.program_text(args.file, matrix, progress)
            case, unused = triage.report_case(text, name, work / "cases", [" ".join(a) for a in args.attach or []])
        except (triage.TriageError, CaseError, OSError) as e:
            console.print(f"[red]cannot triage:[/] {escape(str(e))}", highlight=False)
            return EXIT_HARNESS
        results = triage.run_cells(case, cells, mode, work / "run", args.jobs, progress, oracle=not args.no_oracle)
    console.print(f"{args.file}: {how}; {mode} mode", markup=False, highlight=False)
    for a in case.attach:
        console.print(f"oracle attaches {' '.join(a)}", markup=False, highlight=False)
    for skipped in unused:
        console.print(f"attach call not used by the oracle: {skipped} (pass --attach FN KIND TARGET)",
                      markup=False, highlight=False)
    table = Table(title=escape(f"triage of {args.file.name}"))
    for col in ("cell", "class", "what decided it", "value oracle"):
        table.add_column(col, overflow="fold")
    for cell in cells:
        r, _ = results[cell.name]
        table.add_row(escape(cell.name), r.label, escape(r.message),
                      escape(oracle_verdict(r) or ("not run: no ATTACH point (pass --attach)" if not case.attach
                                                   else "not run")))
    console.print(table)
    labels = {c: r.label for c, (r, _) in results.items()}
    for line in triage.localize(cells, labels):
        console.print(f"change: {line}", markup=False, highlight=False)
    failing = [c.name for c in cells if results[c.name][0].outcome.is_failure]
    reference = failing[-1] if failing else cells[-1].name
    sig = triage.signature(*results[reference])
    console.print(f"signature in {reference}: {sig.outcome} {sig.detail}", markup=False, highlight=False)
    case_text = case.text
    if args.reduce:
        if not failing:
            console.print("nothing to reduce: it fails nowhere")
        else:
            before = len(case_text)
            case_text, seconds = triage.reduce(case_text, sig, reference, args.budget, work / "reduce", mode,
                                               echo=lambda m: console.print(m, markup=False, highlight=False))
            console.print(f"reduced {before} -> {len(case_text)} bytes in {seconds:.0f}s", highlight=False)
            reduced = triage.as_case(case_text, name, work / "reduced-cases")
            again = triage.run_cells(reduced, cells, mode, work / "rerun", args.jobs, oracle=not args.no_oracle)
            same = [c.name for c in cells if again[c.name][0].outcome.is_failure] == failing
            console.print(f"reduced program fails in the same cells: {same}", highlight=False)
            results = again
    out_dir = (args.cases_root or CASES_ROOT) / "triage"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = triage.expectations_from(case_text, results, reference)
    (out_dir / f"{name}.c").write_text(written)
    (out_dir / f"{name}.report.txt").write_text(args.file.read_text(errors="replace"))
    console.print(f"wrote {out_dir / (name + '.c')} (marked for review) and the report beside it", markup=False,
                  highlight=False)
    return EXIT_FAILURES if failing else EXIT_OK


def cmd_triage_check(args) -> int:
    """(internal) C-Vise's interestingness test: exit 0 when the candidate keeps the signature."""
    from . import triage
    sig = triage.Signature(**json.loads(Path(args.signature).read_text()))
    cell = load_matrix().cell(args.cell)
    return 0 if triage.check(args.candidate, sig, cell, args.mode) else 1


def one_case(name: str):
    """(path, case) for a case id (seed/count_sched) or path; (path, None) after printing why not."""
    path = Path(name) if name.endswith(".c") else CASES_ROOT / f"{name}.c"
    loaded = load_cases([path], CASES_ROOT)
    if not loaded.cases:
        print("\n".join(map(str, loaded.errors)) or f"error: no case {name}", file=sys.stderr)
        return path, None
    return path, loaded.cases[0]


def cmd_bless(args) -> int:
    """Regenerate a case's expect-rewrite lines from what one cell's rewriter does; diff, then write."""
    import difflib
    from . import triage
    path, case = one_case(args.case)
    if case is None:
        return EXIT_HARNESS
    cell = load_matrix().select([args.cell] if args.cell else None)[0]
    work = Path(tempfile_dir()) / "bless"
    result, obs = triage.run_cells(case, [cell], resolve_mode(args.mode), work, 1)[cell.name]
    if obs is None or not obs.rewritten:
        print(f"error: {cell.name} produced no rewritten text ({result.label}: {result.message})", file=sys.stderr)
        return EXIT_HARNESS
    new = triage.annotate(case.text, list(result.actual_sites))
    diff = "".join(difflib.unified_diff(case.text.splitlines(True), new.splitlines(True),
                                        f"a/{path.name}", f"b/{path.name}"))
    print(diff or f"{path}: expectations already match {cell.name}")
    if diff and args.write:
        path.write_text(new)
        print(f"wrote {path}")
    elif diff:
        print("(not written: pass --write to apply)")
    return EXIT_OK


def tempfile_dir() -> str:
    import tempfile
    return tempfile.mkdtemp(prefix="harness-")


def cmd_show(args) -> int:
    case_id = args.case
    path = Path(args.case)
    if path.suffix == ".c":
        from .cases import case_id as to_id
        case_id = to_id(path, CASES_ROOT)
    run, results = last_results_for(case_id)
    if args.cell:
        results = [r for r in results if r.cell == args.cell]
    if not results:
        print(f"no results for {case_id} yet: run `python -m harness run cases/{case_id}.c`", file=sys.stderr)
        return EXIT_HARNESS
    loaded = load_cases([CASES_ROOT / f"{case_id}.c"], CASES_ROOT)
    case = loaded.cases[0] if loaded.cases else None
    console = Console()
    for r in results:
        render_show(console, case, r, run.observation(r.cell, case_id), run.path)
    return EXIT_OK


def cmd_images(args) -> int:
    console = Console()
    if args.action == "list":
        for image in list_images():
            console.print(f"{image.path.name}  {describe(image)}", markup=False, highlight=False)
        return EXIT_OK
    if args.action == "prune":
        root = images_root()
        for tmp in root.glob(".*.tmp") if root.exists() else []:
            shutil.rmtree(tmp, ignore_errors=True)
        wanted = set()
        matrix = load_matrix()
        for cell in matrix.all_cells():
            wanted |= {cell.rewriter.recipe().dirname(), cell.kernel.recipe().dirname()}
        for spec in matrix.rewriters.values():     # rows built from source whose tree is here
            try:
                wanted.add(spec.recipe().dirname())
            except ImageError:
                pass
        for image in list_images():
            kind = image.manifest.get("recipe", {}).get("kind")
            if kind in ("rewriter", "kernel") and image.path.name not in wanted:
                console.print(f"removing {image.path.name}", markup=False)
                shutil.rmtree(image.path)
        return EXIT_OK
    cells = _cells(args.cell)
    if cells is None:
        return EXIT_HARNESS
    if not host_setup.ensure(install=False, echo=lambda m: console.print(m, markup=False)):
        return EXIT_HARNESS
    with rich_progress(console) as progress:
        for cell in cells:
            for image in (rewriter_image(cell.rewriter, progress), kernel_image(cell.kernel, progress)):
                console.print(f"{image.path.name}  {describe(image)}", markup=False, highlight=False)
    return EXIT_OK


def cmd_lint(args) -> int:
    loaded = load_cases(args.cases or [CASES_ROOT], CASES_ROOT)
    for e in loaded.errors:
        print(e)
    print(f"{len(loaded.cases)} cases clean, {len(loaded.errors)} with errors")
    return EXIT_OK if not loaded.errors else EXIT_FAILURES


def _compare_table(comparisons, a: str, b: str, every: bool):
    from rich.markup import escape
    from rich.table import Table
    from .compare import interesting
    table = Table(title=f"compare {a} -> {b}")
    for col in ("case", "kernel", "verdict", a, b, "sites whose rewrite changed (before -> after)"):
        table.add_column(col, overflow="fold")
    for c in interesting(comparisons, every):
        sites = "\n".join(f"{s.line}: {s.expr}: {s.before or '(none)'} -> {s.after or '(none)'}"
                          for s in c.sites if s.differs) or ("(other rewritten text differs)" if c.rewritten_differs else "")
        table.add_row(escape(c.case_id), c.kernel, c.verdict.value, escape(c.before.label + (
            f" ({c.before.raw_outcome.label})" if c.before.raw_outcome and c.before.raw_outcome is not c.before.outcome else "")),
            escape(c.after.label + (f" ({c.after.raw_outcome.label})" if c.after.raw_outcome and
                                    c.after.raw_outcome is not c.after.outcome else "")), escape(sites))
    return table


def cmd_compare(args) -> int:
    """Run two rewriters on the same kernels (oracle included); say per case x kernel what changed."""
    from .compare import compare, exit_status, headline, to_json
    from .matrix import Cell
    from .report.compare_html import render_comparison, render_markdown
    console = Console()
    try:
        matrix = load_matrix()
        a, b = matrix.rewriter(args.rewriter_a), matrix.rewriter(args.rewriter_b)
        kernel_names = args.kernel or list(dict.fromkeys(n.partition("@")[2] for n in matrix.oracle_cells))
        kernels = [matrix.kernel(k) for k in kernel_names]
    except MatrixError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    if not host_setup.ensure(install=False, echo=lambda m: console.print(m, markup=False)):
        return EXIT_HARNESS
    loaded = load_cases(args.cases or [CASES_ROOT], CASES_ROOT)
    for e in loaded.errors:
        console.print(f"INVALID {e}", highlight=False, markup=False)
    cells = [Cell(r, k) for k in kernels for r in (a, b)]
    mode = resolve_mode(args.mode)
    run = RunDir.create(sys.argv, mode=mode)
    run.record_cases(loaded.cases)
    console.print(f"{len(loaded.cases)} cases x {len(cells)} cells ({a.name}, {b.name} on "
                  f"{', '.join(kernel_names)}), {mode} mode", highlight=False)
    oracle = set() if args.no_oracle else {c.name for c in cells}
    with rich_progress(console) as progress:
        results, interrupted = run_matrix(cells, list(loaded.cases), mode, run, progress, args.jobs,
                                          args.case_timeout, not args.no_cache, oracle)
    kernel_of = lambda cell: cell.partition("@")[2]   # noqa: E731

    def rewritten(r):
        obs = run.observation(r.cell, r.case_id)
        return obs.rewritten if obs else None
    comparisons = compare([r for r in results if r.cell.startswith(a.name + "@")],
                          [r for r in results if r.cell.startswith(b.name + "@")], kernel_of, rewritten)
    (run.path / "compare.json").write_text(json.dumps([to_json(c) for c in comparisons], indent=1))
    console.print(_compare_table(comparisons, a.name, b.name, args.all))
    console.print(headline(comparisons, a.name, b.name, kernel_names), highlight=False, markup=False)
    if args.html:
        args.html.write_text(render_comparison(comparisons, a.name, b.name, kernel_names))
        console.print(f"HTML: {args.html}", highlight=False)
    if args.markdown:
        args.markdown.write_text(render_markdown(comparisons, a.name, b.name))
    console.print(f"results: {run.path}", highlight=False)
    return 130 if interrupted else exit_status(comparisons)


def cmd_bisect(args) -> int:
    """git bisect over a bcc tree: build each step, run the case, compare with the good end."""
    from .bisect import BisectError, bisect, text_diff
    from .images.tools import ImageError
    from .matrix import Cell
    console = Console()
    path, case = one_case(args.case)
    if case is None:
        return EXIT_HARNESS
    try:
        matrix = load_matrix()
        cell = matrix.select([args.cell] if args.cell else None)[0]
    except MatrixError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    mode = resolve_mode(args.mode)
    run = RunDir.create(sys.argv, mode=mode)
    run.record_cases([case])
    stem = args.tree.resolve().name.split(".")[0].split("-")[0] or "bcc"
    texts = {}      # commit -> bcc's rewritten text, for the diff printed at the end

    def rewritten(result):
        obs = run.observation(result.cell, result.case_id)
        return obs.rewritten if obs else None

    def evaluate(commit: str):
        spec = matrix.from_source(f"{stem}-{commit[:10]}", str(args.tree), commit, suite=cell.rewriter.suite)
        step = Cell(spec, cell.kernel)
        with rich_progress(console) as progress:
            results, _ = run_matrix([step], [case], mode, run, progress, 1, args.case_timeout, True,
                                    {step.name} if args.oracle else set())
        result = next(r for r in results if r.case_id == case.id)
        texts[commit] = rewritten(result)
        return result

    try:
        outcome = bisect(str(args.tree), args.good, args.bad, evaluate,
                         lambda line: console.print(line, highlight=False, markup=False),
                         rewritten if args.text else None)
    except (BisectError, ImageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_HARNESS
    if outcome.first is None:
        console.print(outcome.note, highlight=False, markup=False)
        return EXIT_OK if not outcome.steps else EXIT_HARNESS
    sha, subject = outcome.first
    console.print(f"first commit where {case.id} behaves differently on {cell.kernel.name}: {sha[:12]} {subject}",
                  highlight=False, markup=False)
    console.print(f"  before: {outcome.good.signature.describe()}\n  after:  {outcome.bad.signature.describe()}\n"
                  f"  {len(outcome.steps)} step(s); results: {run.path}", highlight=False, markup=False)
    if args.text:
        for line in text_diff(texts.get(outcome.good.commit), texts.get(sha)):
            console.print(f"  {line}", highlight=False, markup=False)
    (run.path / "bisect.json").write_text(json.dumps({"first": sha, "subject": subject, "case": case.id,
                                                      "steps": [[s.commit, s.term, s.signature.describe()]
                                                                for s in outcome.steps]}, indent=1))
    return EXIT_OK
