"""What each CLI command does, in terms of the pipeline's stages."""

import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import setup as host_setup
from .backends.qemu import QemuBackend
from .cases import load_cases
from .images.build import describe, kernel_image, rewriter_image
from .images.store import images_root, list_images
from .matrix import MatrixError, load_matrix
from .outcome import Outcome
from .paths import project_root
from .pipeline import invalid_results, run_cell
from .report.terminal import print_summary
from .show import render_show
from .store import RunDir, last_results_for

CASES_ROOT = project_root() / "cases"
EXIT_OK, EXIT_FAILURES, EXIT_HARNESS = 0, 1, 2


@contextmanager
def rich_progress(console: Console) -> Iterator:
    """A progress callback drawing one bar per task (image build, cell)."""
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console,
                    transient=False)
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
    loaded = load_cases(args.cases or [CASES_ROOT], CASES_ROOT)
    for e in loaded.errors:
        console.print(f"[magenta]INVALID[/] {e}", highlight=False)
    run = RunDir.create(sys.argv)
    results = invalid_results(loaded.errors, cells, CASES_ROOT)
    run.record_results(results)
    backend = QemuBackend()
    with rich_progress(console) as progress:
        for cell in cells:
            if args.show_command:
                console.print(f"{cell.name}: qemu command in {run.cell_dir(cell.name)}/qemu.cmd")
            out = run_cell(cell, list(loaded.cases), backend, run.cell_dir(cell.name), progress,
                           args.case_timeout)
            run.record_observations(cell.name, list(out.observations))
            run.record_results(list(out.results))
            results += out.results
    print_summary(results, console)
    console.print(f"results: {run.path}", highlight=False)
    return exit_code(results)


def exit_code(results) -> int:
    if any(r.outcome in (Outcome.HARNESS, Outcome.INVALID) for r in results):
        return EXIT_HARNESS
    return EXIT_FAILURES if any(r.outcome.is_failure for r in results) else EXIT_OK


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
            console.print(f"{image.path.name}  {describe(image)}", highlight=False)
        return EXIT_OK
    if args.action == "prune":
        root = images_root()
        for tmp in root.glob(".*.tmp") if root.exists() else []:
            shutil.rmtree(tmp, ignore_errors=True)
        wanted = set()
        for cell in load_matrix().all_cells():
            wanted |= {cell.rewriter.recipe().dirname(), cell.kernel.recipe().dirname()}
        for image in list_images():
            if image.path.name not in wanted:
                console.print(f"removing {image.path.name}")
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
                console.print(f"{image.path.name}  {describe(image)}", highlight=False)
    return EXIT_OK


def cmd_setup(args) -> int:
    ok = host_setup.ensure(install=args.install)
    if ok:
        print("host ready: " + ", ".join(r.what for r in host_setup.requirements()))
    return EXIT_OK if ok else EXIT_HARNESS


def cmd_lint(args) -> int:
    loaded = load_cases(args.cases or [CASES_ROOT], CASES_ROOT)
    for e in loaded.errors:
        print(e)
    print(f"{len(loaded.cases)} cases clean, {len(loaded.errors)} with errors")
    return EXIT_OK if not loaded.errors else EXIT_FAILURES
