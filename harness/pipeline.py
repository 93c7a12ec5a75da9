"""The flow of one run: cases -> images -> backend (rewrite, compile, load) -> observations -> classes.

Each stage hands plain data to the next; a failure in one cell or case becomes a HARNESS/ENV result
for what it touched, never an exception that loses the others (only Ctrl-C escapes).
"""

import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from . import result_cache
from .backends.base import Backend, GuestJob, guest_dir_name
from .cases import Case, CaseError
from .classify import Result, classify, unsupported
from .images.build import kernel_image, rewriter_image
from .matrix import Cell
from .observation import Observation, guest_status, read_observation
from .oracle_stage import run_oracle
from .outcome import Outcome
from .progress import Progress, silent


@dataclass(frozen=True)
class CellOutcome:
    cell: str
    versions: Dict[str, str]
    results: Tuple[Result, ...]
    observations: Tuple[Observation, ...]
    workdir: Path
    seconds: float = 0.0
    boot_seconds: Optional[float] = None
    problem: str = ""
    interrupted: bool = False


def invalid_results(errors: Tuple[CaseError, ...], cells: List[Cell], root: Path) -> List[Result]:
    from .cases import case_id
    return [Result(case_id(e.path, root), cell.name, Outcome.INVALID, str(e))
            for e in errors for cell in cells]


def cell_versions(rewriter_manifest: Dict, kernel_manifest: Dict) -> Dict[str, str]:
    return {"bcc": str(rewriter_manifest.get("bcc_version", "")),
            "kernel": str(kernel_manifest.get("kernel_version", "")),
            "kver": str(kernel_manifest.get("kver", "")),
            "python3-bpfcc": str(rewriter_manifest.get("packages", {}).get("python3-bpfcc", "")),
            "linux-image": next((v for k, v in kernel_manifest.get("packages", {}).items()
                                 if k.startswith("linux-image-")), "")}


def run_cell(cell: Cell, cases: List[Case], backend: Backend, workdir: Path,
             progress: Progress = silent, case_timeout: int = 900, use_cache: bool = True,
             oracle: bool = False) -> CellOutcome:
    try:
        rewriter = rewriter_image(cell.rewriter, progress)
        kernel = kernel_image(cell.kernel, progress)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # an image that cannot be built: every case of the cell is harness trouble
        msg = f"image build failed: {e}".strip()
        return CellOutcome(cell.name, {}, tuple(Result(c.id, cell.name, Outcome.HARNESS, msg.splitlines()[0],
                                                       details=msg) for c in cases), (), workdir, problem=msg)
    versions = cell_versions(rewriter.manifest, kernel.manifest)
    results: List[Result] = []
    observations: List[Observation] = []
    to_run = []
    keys = {}
    for case in cases:
        skip = unsupported(case, cell.name, versions)
        if skip:
            results.append(skip)
            continue
        keys[case.id] = result_cache.key(case, rewriter.manifest["key"], kernel.manifest["key"], backend.name)
        cached = result_cache.get(keys[case.id]) if use_cache else None
        if cached:
            obs = replace(cached, case_id=case.id, cell=cell.name)
            observations.append(obs)
            results.append(classify(case, obs, versions))
        else:
            to_run.append(case)
    if use_cache and len(to_run) < len(cases):
        progress(f"cell {cell.name}", len(cases) - len(to_run), len(cases), "known results reused")
    run = None
    problem = ""
    if to_run:
        job = GuestJob(cell.name, rewriter, kernel, tuple(to_run), workdir, case_timeout)
        try:
            run = backend.run(job, progress)
            if run.status != "ok":
                problem = f"{run.status}: {run.detail}" + (f" (serial console kept: {run.console})"
                                                            if run.console else "")
            outdir = run.outdir
        except KeyboardInterrupt:
            raise
        except Exception:
            problem, outdir = f"backend {backend.name} crashed:\n{traceback.format_exc()}", workdir / "out"
        # After a backend crash no file it left can be trusted: every case is harness trouble.
        status = guest_status(outdir) if run else {}
        for case in to_run:
            verdict = status.get(guest_dir_name(case), (None, 0))[0]
            obs = read_observation(case.id, cell.name, outdir / guest_dir_name(case), verdict, problem)
            result_cache.put(keys[case.id], obs)
            observations.append(obs)
            results.append(classify(case, obs, versions))
    if oracle and not (run and run.status == "interrupted"):
        results = run_oracle(cell.name, rewriter, kernel, cases, observations, results, versions,
                             workdir, progress)
    order = {c.id: i for i, c in enumerate(cases)}
    results.sort(key=lambda r: order.get(r.case_id, 0))
    return CellOutcome(cell.name, versions, tuple(results), tuple(observations), workdir,
                       seconds=run.seconds if run else 0.0, boot_seconds=run.boot_seconds if run else None,
                       problem=problem, interrupted=bool(run and run.status == "interrupted"))
