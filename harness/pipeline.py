"""The flow of one run: cases -> images -> backend (rewrite, compile, load) -> observations -> classes.

Each stage hands plain data to the next; a failure in one cell or case becomes a HARNESS/ENV result
for what it touched, never an exception that loses the others (only Ctrl-C escapes).
"""

import sqlite3
import sys
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from . import result_cache
from .backends import backend_for
from .backends.base import Backend, GuestJob, GuestRun, RunStatus, guest_dir_name
from .cases import Case, CaseError
from .classify import Result, classify, unsupported
from .history import History, HistoryError, record_rundir
from .interrupt import ctrl_c_requests_stop, stop_requested
from .images.build import kernel_image, rewriter_image
from .matrix import Cell
from .observation import Observation, guest_status, read_observation
from .oracle_stage import eligible as oracle_eligible, run_oracle
from .runtime_stage import _eligible as runtime_eligible, run_runtime
from .outcome import Outcome
from .progress import Progress, silent
from .shared_clang import ShareHeaders
from .store import RunDir, runs as run_dirs


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
    source = rewriter_manifest.get("source") or {}    # rows built from a bcc tree name it, commit, patches
    return {"bcc": str(rewriter_manifest.get("bcc_version", "")),
            **({"bcc_tree": str(source.get("tree", "")), "bcc_commit": str(source.get("commit", "")),
                "patches": ",".join(Path(p["file"]).stem for p in source.get("patches", []))} if source else {}),
            "kernel": str(kernel_manifest.get("kernel_version", "")),
            "kver": str(kernel_manifest.get("kver", "")),
            "python3-bpfcc": str(rewriter_manifest.get("packages", {}).get("python3-bpfcc", "")),
            "linux-image": next((v for k, v in kernel_manifest.get("packages", {}).items()
                                 if k.startswith("linux-image-")), "")}


@dataclass
class PreparedCell:
    """A cell after its images are ready and known results are taken from the cache."""
    cell: Cell
    cases: List[Case]
    workdir: Path
    rewriter: object = None
    kernel: object = None
    versions: Dict[str, str] = None
    results: List[Result] = None
    observations: List[Observation] = None
    to_run: List[Case] = None
    keys: Dict[str, str] = None
    failed: Optional[CellOutcome] = None
    use_cache: bool = True

    def job(self, case_timeout: int, proofs_follow: bool = False) -> GuestJob:
        return GuestJob(self.cell.name, self.rewriter, self.kernel, tuple(self.to_run), self.workdir, case_timeout,
                        keep_headers=proofs_follow)


def prepare_cell(cell: Cell, cases: List[Case], backend_name: str, workdir: Path, progress: Progress,
                 use_cache: bool) -> PreparedCell:
    prep = PreparedCell(cell, cases, workdir, results=[], observations=[], to_run=[], keys={}, use_cache=use_cache)
    try:
        prep.rewriter = rewriter_image(cell.rewriter, progress)
        prep.kernel = kernel_image(cell.kernel, progress)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # an image that cannot be built: every case of the cell is harness trouble
        msg = f"image build failed: {e}".strip()
        prep.failed = CellOutcome(cell.name, {}, tuple(Result(c.id, cell.name, Outcome.HARNESS, msg.splitlines()[0],
                                                              details=msg) for c in cases), (), workdir, problem=msg)
        return prep
    prep.versions = cell_versions(prep.rewriter.manifest, prep.kernel.manifest)
    for case in cases:
        skip = unsupported(case, cell.name, prep.versions)
        if skip:
            prep.results.append(skip)
            continue
        prep.keys[case.id] = result_cache.key(case, prep.rewriter.manifest["key"], prep.kernel.manifest["key"],
                                              backend_name)
        cached = result_cache.get(prep.keys[case.id]) if use_cache else None
        if cached:
            obs = replace(cached, case_id=case.id, cell=cell.name)
            prep.observations.append(obs)
            prep.results.append(classify(case, obs, prep.versions))
        else:
            prep.to_run.append(case)
    if use_cache and len(prep.to_run) < len(cases):
        progress(f"cell {cell.name}", len(cases) - len(prep.to_run), len(cases), "known results reused")
    return prep


def finish_cell(prep: PreparedCell, run: Optional[GuestRun], crash: str, progress: Progress,
                oracle: bool, backend: Backend) -> CellOutcome:
    """Observations from the backend's files, classes, the oracle if asked; `crash` is a backend crash."""
    results, observations = list(prep.results), list(prep.observations)
    problem = crash
    if run is not None and run.status != RunStatus.OK:
        problem = f"{run.status}: {run.detail}" + (f" (serial console kept: {run.console})" if run.console else "")
    if prep.to_run:
        outdir = run.outdir if run else prep.workdir / "out"
        # After a backend crash no file it left can be trusted: every case is harness trouble.
        status = guest_status(outdir) if run else {}
        for case in prep.to_run:
            verdict = status.get(guest_dir_name(case), (None, 0))[0]
            obs = read_observation(case.id, prep.cell.name, outdir / guest_dir_name(case), verdict, problem)
            result_cache.put(prep.keys[case.id], obs)
            observations.append(obs)
            results.append(classify(case, obs, prep.versions))
    interrupted = bool(run and run.status == RunStatus.INTERRUPTED)
    if oracle and not interrupted:   # runtime proof: the value oracle and EXPECT-MAP checks
        results = runtime_proofs(prep, observations, results, progress, backend)
    order = {c.id: i for i, c in enumerate(prep.cases)}
    results.sort(key=lambda r: order.get(r.case_id, 0))
    return CellOutcome(prep.cell.name, prep.versions, tuple(results), tuple(observations), prep.workdir,
                       seconds=run.seconds if run else 0.0, boot_seconds=run.boot_seconds if run else None,
                       problem=problem, interrupted=interrupted)


def crash_text(what: str) -> Tuple[str, str]:
    """For the exception being handled: (one line naming what crashed and the traceback's last line,
    the whole traceback), the message and details of the HARNESS results it causes."""
    details = traceback.format_exc()
    return f"{what} crashed: {details.strip().splitlines()[-1]}", details


def guarded_stage(name: str, stage, touches, prep: PreparedCell, todo: List[Case], observations: List[Observation],
                  results: List[Result], progress: Progress, backend: Backend) -> List[Result]:
    """Run a runtime stage (oracle, EXPECT-MAP checks) on the cases `todo`. If it raises, the cases it
    would judge (`touches(case, observation, result)`) become HARNESS, since their check never
    happened; the cell's other results stand and the run goes on."""
    try:
        return stage(prep.cell.name, prep.rewriter, prep.kernel, todo, observations, results,
                     prep.versions, prep.workdir, progress, backend)
    except KeyboardInterrupt:
        raise
    except Exception:
        message, details = crash_text(f"the {name} stage")
    by_obs = {o.case_id: o for o in observations}
    cases = {c.id: c for c in todo}

    def touched(r: Result) -> bool:
        if r.case_id not in cases or r.case_id not in by_obs:
            return False
        try:
            return bool(touches(cases[r.case_id], by_obs[r.case_id], r))
        except Exception:       # cannot even tell: the stage may have touched it
            return True
    return [replace(r, outcome=Outcome.HARNESS, raw_outcome=Outcome.HARNESS, message=message,
                    details=details + r.details) if touched(r) else r for r in results]


def crashed_cells(cells: List[Cell], cases: List[Case], what: str) -> List[CellOutcome]:
    """Every case of `cells` as HARNESS, after `what` raised past every guard of a cell."""
    message, details = crash_text(what)
    return [CellOutcome(cell.name, {}, tuple(Result(c.id, cell.name, Outcome.HARNESS, message, details=details,
                                                    raw_outcome=Outcome.HARNESS) for c in cases),
                        (), Path(), problem=message) for cell in cells]


def runtime_proofs(prep: PreparedCell, observations: List[Observation], results: List[Result],
                   progress: Progress, backend: Backend) -> List[Result]:
    """The value oracle and EXPECT-MAP checks; a case whose proofs are known for the same observation
    and harness code is not compiled and booted again."""
    keys = {case_id: result_cache.proof_key(k) for case_id, k in prep.keys.items()}
    known = {case_id: result_cache.get_proof(k) for case_id, k in keys.items()} if prep.use_cache else {}
    known = {case_id: r for case_id, r in known.items() if r is not None}
    todo = [c for c in prep.cases if c.id not in known]
    if todo:
        results = guarded_stage("oracle", run_oracle, lambda c, o, r: not oracle_eligible(c, o, r),
                                prep, todo, observations, results, progress, backend)
        results = guarded_stage("runtime", run_runtime, runtime_eligible,
                                prep, todo, observations, results, progress, backend)
    proved = []
    for r in results:
        if r.case_id in known:
            r = replace(known[r.case_id], case_id=r.case_id, cell=r.cell)
        elif r.case_id in keys:
            result_cache.put_proof(keys[r.case_id], r)
        proved.append(r)
    return proved


def run_cell(cell: Cell, cases: List[Case], backend: Backend, workdir: Path,
             progress: Progress = silent, case_timeout: int = 900, use_cache: bool = True,
             oracle: bool = False) -> CellOutcome:
    prep = prepare_cell(cell, cases, backend.name, workdir, progress, use_cache)
    if prep.failed:
        return prep.failed
    run, crash = None, ""
    if prep.to_run:
        try:
            run = backend.run(prep.job(case_timeout, oracle), progress)
        except KeyboardInterrupt:
            raise
        except Exception:
            crash = f"backend {backend.name} crashed:\n{traceback.format_exc()}"
    return finish_cell(prep, run, crash, progress, oracle, backend)


def run_kernel_group(cells: List[Cell], cases: List[Case], backend, workdirs: Dict[str, Path],
                     progress: Progress = silent, case_timeout: int = 900, use_cache: bool = True,
                     oracle_cells=()) -> List[CellOutcome]:
    """Split mode, several rewriters on one kernel: compile each on the host, load them all in one boot."""
    preps = [prepare_cell(c, cases, backend.name, workdirs[c.name], progress, use_cache) for c in cells]
    live = [p for p in preps if not p.failed and p.to_run]
    runs: Dict[str, GuestRun] = {}
    crash = ""
    if live:
        try:
            runs = dict(zip((p.cell.name for p in live),
                            backend.run_group([p.job(case_timeout, p.cell.name in oracle_cells) for p in live],
                                              progress)))
        except KeyboardInterrupt:
            raise
        except Exception:
            crash = f"backend {backend.name} crashed:\n{traceback.format_exc()}"
    return [p.failed or finish_cell(p, runs.get(p.cell.name), crash, progress, p.cell.name in oracle_cells,
                                    backend)
            for p in preps]


def to_history(run: RunDir) -> None:
    """Copy what the run has finished into the SQLite history, then what earlier runs beside it finished
    but never got there (killed, disk full). Idempotent; on any failure the run dir keeps everything."""
    try:
        history = History()
    except (HistoryError, sqlite3.Error, OSError) as e:
        print(f"warning: results kept in {run.path} but not in the history: {e}", file=sys.stderr)
        return
    try:
        for other in [run] + [r for r in run_dirs(run.path.parent) if r.path != run.path]:
            if other is not run and not other.unrecorded(history.path):
                continue
            try:
                size = other.results_size()
                record_rundir(history, other.path, other.recorded_size(history.path))
                other.mark_recorded(history.path, size)
            except (HistoryError, sqlite3.Error, OSError, ValueError) as e:
                if other is run:
                    print(f"warning: results kept in {run.path} but not in the history: {e}", file=sys.stderr)
                    return      # the earlier runs would fail alike; the next run tries again
    finally:
        history.close()


def record(run: RunDir, out: CellOutcome, results: List[Result]) -> None:
    """Keep one finished cell: its observations, its results, the history. A write that fails (a full
    disk) is reported and the run goes on: the results stay in memory for the summary and the exit code,
    the observations in the result cache for the next run."""
    try:
        run.record_observations(out.cell, list(out.observations))
        run.record_results(results)
    except OSError as e:
        print(f"warning: results of {out.cell} not written to {run.path}: {e}", file=sys.stderr)
    to_history(run)


def run_matrix(cells, cases, mode: str, run: RunDir, progress, jobs: int, case_timeout: int,
               use_cache: bool, oracle_cells=(), share_headers: ShareHeaders = ShareHeaders.ON
               ) -> Tuple[List[Result], bool]:
    """Run cells concurrently (up to `jobs`), recording each as it finishes. Returns (results, interrupted).
    The value oracle runs in the cells named in `oracle_cells`; share_headers: split mode's shared
    kernel headers."""
    backend = backend_for(mode, share_headers=share_headers)
    results: List[Result] = []
    interrupted = False

    def one(cell):
        return [run_cell(cell, cases, backend_for(mode, cell, share_headers), run.cell_dir(cell.name), progress, case_timeout,
                         use_cache, cell.name in oracle_cells)]
    box_cells = [c for c in cells if c.backend != "qemu"]      # Vagrant cells run in their own box
    cells = [c for c in cells if c.backend == "qemu"]

    def oracle_first(group):
        # Longest first: a group with the oracle has a compile and a boot more after its load, so it
        # starts first and the other groups' compiles fill the cores meanwhile, not an idle tail.
        return not any(c.name in oracle_cells for c in group)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        if backend.groups_by_kernel:   # split: one loading boot per kernel
            groups: Dict[str, list] = {}
            for cell in cells:
                groups.setdefault(cell.kernel.name, []).append(cell)
            futures = {pool.submit(run_kernel_group, group, cases, backend,
                                   {c.name: run.cell_dir(c.name) for c in group}, progress, case_timeout,
                                   use_cache, oracle_cells): group
                       for group in sorted(groups.values(), key=oracle_first)}
        else:
            futures = {pool.submit(one, cell): [cell] for cell in sorted(cells, key=lambda c: oracle_first([c]))}
        futures.update({pool.submit(one, cell): [cell] for cell in box_cells})
        pending = set(futures)
        total = len(cases) * (len(cells) + len(box_cells))
        progress("whole run", 0, total, f"{len(cells) + len(box_cells)} cells")
        # Ctrl-C only sets the stop flag here: VMs and host compiles stop and hand back what finished,
        # and no KeyboardInterrupt can land in the middle of writing results.
        with ctrl_c_requests_stop():
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                interrupted |= stop_requested()
                for future in done:
                    try:
                        outs = future.result()
                    except Exception:
                        outs = crashed_cells(futures[future], cases, "the cell's pipeline")
                    for out in outs:
                        kept = [r for r in out.results if not (out.interrupted and r.outcome is Outcome.HARNESS)]
                        record(run, out, kept)
                        results += kept
                        interrupted |= out.interrupted
                    progress("whole run", len(results), total, f"{len(results)} results")
    order = {c.name: i for i, c in enumerate(cells)}
    results.sort(key=lambda r: order.get(r.cell, 0))
    return results, interrupted
