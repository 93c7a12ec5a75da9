"""The oracle as a pipeline stage: after a cell's cases are classified, run the probe and twin programs
of every case that loads and says where it attaches, in one more boot of the cell's kernel, and turn any
value difference into WRONG-READ. The backend decides where bcc compiles them: in the guest (guest mode)
or on the host with the kernel's personality, the guest's loader attaching them (split mode)."""

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from rich.table import Table

from .backends.base import Backend, guest_dir_name
from .cases import Case
from .classify import Result, apply_gates
from .images.store import Image
from .observation import Observation, split_compile_log
from .oracle import Coverage, OracleError, Programs, build, describe, judge
from .outcome import Outcome
from .progress import Progress
from .sites import compact, find_sites

JUDGED = (Outcome.PASS, Outcome.FP_EXTRA, Outcome.FN_MISSING)


def eligible(case: Case, obs: Observation, result: Result) -> str:
    """'' when the oracle can run on this case in this cell, else why not."""
    raw = result.raw_outcome or result.outcome
    if raw not in JUDGED:
        return f"not run: the case is {raw.label}"
    if not obs.functions or not all(f.loaded for f in obs.functions):
        return "not run: not every function loads"
    if not case.attach:
        return "not run: the case declares no ATTACH point"
    if not result.actual_sites:
        return "not run: no rewrite sites to compare"
    return ""


def _values(raw: Dict[str, str]) -> Dict[int, bytes]:
    return {int(k): bytes.fromhex(v) for k, v in raw.items()}


def _check_rewrites(case_id: str, programs: Programs, out: Path) -> str:
    """The twin must have no rewrite; the probe must be rewritten at the case's own sites."""
    twin_text, _ = split_compile_log(_read(out / "compile-twin.log"))
    if twin_text is None:
        return "no rewritten text for the twin"
    extra = find_sites(programs.twin, twin_text)
    if extra:
        return f"bcc rewrote the twin at {extra[0].text!r} (line {extra[0].line}); cannot judge"
    probe_text, _ = split_compile_log(_read(out / "compile-probe.log"))
    if probe_text is None:
        return "no rewritten text for the probe"
    got = sorted(compact(s.text) for s in find_sites(programs.probe, probe_text) if s.depth == 0)
    want = sorted(compact(s.text) for s in programs.sites if s.depth == 0)
    if got != want:
        return f"the instrumented program was rewritten differently ({got} vs {want}); cannot judge"
    return ""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def program_entry(case: Case, programs: Dict[str, str], tables: List[str], **extra) -> dict:
    """A runtime-mode job entry: the case's programs by role, where they attach, the maps read back."""
    return dict({"id": guest_dir_name(case), "programs": programs, "attach": [list(a) for a in case.attach],
                 "trigger": case.trigger, "cflags": list(case.cflags), "prog_types": case.prog_types(),
                 "tables": tables, "untrusted": case.untrusted}, **extra)


def run_oracle(cell_name: str, rewriter: Image, kernel: Image, cases: List[Case],
               observations: List[Observation], results: List[Result], versions: Dict[str, str],
               workdir: Path, progress: Progress, backend: Backend) -> List[Result]:
    by_obs = {o.case_id: o for o in observations}
    todo: List[Tuple[Case, Programs]] = []
    notes: Dict[str, str] = {}
    coverage: Dict[str, Coverage] = {}
    for case in cases:
        result = next((r for r in results if r.case_id == case.id), None)
        obs = by_obs.get(case.id)
        if result is None or obs is None:
            continue
        why = eligible(case, obs, result)
        if not why:
            try:
                todo.append((case, build(case.text, find_sites(case.text, obs.rewritten))))
            except OracleError as e:
                why = f"cannot judge: {e}"
                coverage[case.id] = _unjudged(len(result.actual_sites), str(e))
        if why:
            notes[case.id] = why
            if case.id not in coverage:
                coverage[case.id] = Coverage(not_run=Counter({why[len("not run: "):]: len(result.actual_sites)})
                                             if result.actual_sites else Counter())
    outcomes: Dict[str, Result] = {}
    if todo:
        files, entries = {}, []
        for case, programs in todo:
            name = guest_dir_name(case)
            files[f"{name}.probe.c"], files[f"{name}.twin.c"] = programs.probe, programs.twin
            entries.append(program_entry(case, {"probe": f"cases/{name}.probe.c", "twin": f"cases/{name}.twin.c"},
                                         ["__harness_cfg", "__harness_values"]))
        run = backend.run_programs("oracle", entries, files, rewriter, kernel, workdir / "oracle",
                                   f"oracle {cell_name}", progress)
        for case, programs in todo:
            out = run.outdir / guest_dir_name(case)
            notes[case.id], outcomes[case.id], coverage[case.id] = _verdict(case, programs, out, run.status,
                                                                            run.detail)
    record_coverage(workdir / COVERAGE_FILE, cell_name, coverage)
    updated = []
    for r in results:
        note = notes.get(r.case_id, "")
        wrong = outcomes.get(r.case_id)
        if wrong is not None:
            r = apply_gates(next(c for c in cases if c.id == r.case_id),
                            replace(r, outcome=wrong.outcome, message=wrong.message,
                                    details=wrong.details + r.details), versions)
        updated.append(replace(r, oracle=note) if note else r)
    return updated


def _unjudged(count: int, reason: str) -> Coverage:
    cover = Coverage()
    cover.add_unjudged(count, reason)
    return cover


def _verdict(case: Case, programs: Programs, out: Path, run_status: str,
             run_detail: str) -> Tuple[str, Optional[Result], Coverage]:
    """(the note, a WRONG-READ or HARNESS result or None, the case's coverage)."""
    count = len(programs.sites)
    try:
        data = json.loads((out / "oracle.json").read_text())
    except (OSError, ValueError):
        # harness trouble (the oracle's boot died: a kernel panic under load, a timeout), never a verdict
        return f"harness: no oracle result ({run_status}: {run_detail})", \
            Result(case.id, "", Outcome.HARNESS, f"oracle: no result ({run_status}: {run_detail})"), \
            _unjudged(count, "harness: no oracle result")
    if data.get("error"):
        # The twin reads each site with its own helper call; a twin the kernel refuses cannot be judged.
        if data["error"].startswith("twin"):
            return f"cannot judge: {data['error']}", None, _unjudged(count, "the twin does not compile or load")
        if data.get("missing"):     # the environment's: this kernel lacks the function or tracepoint
            return f"not judged: this kernel has no {data['missing']} ({data['error']})", None, \
                _unjudged(count, "attach point not in this kernel")
        return f"harness: {data['error']}", None, _unjudged(count, "harness: " + data["error"].split(":")[0])
    if data.get("stage") != "done":
        return f"harness: the oracle stopped at {data.get('stage')}", None, \
            _unjudged(count, "harness: the oracle stopped early")
    problem = _check_rewrites(case.id, programs, out)
    if problem:
        return f"cannot judge: {problem}", None, _unjudged(count, problem.split(" (")[0].split(" at ")[0])
    verdicts = judge(programs, _values(data["values"].get("probe", {})), _values(data["values"].get("twin", {})))
    cover = Coverage()
    cover.add_verdicts(verdicts)
    tally = f"; sites: {cover.summary()}"
    if not any(v.reference is not None or v.rewritten is not None for v in verdicts):
        if case.report_only:    # a report's ATTACH points are where it attaches; the trigger is a guess
            return f"not judged: the {case.trigger} trigger never reached the report's ATTACH points " \
                   f"({', '.join(' '.join(a[1:]) for a in case.attach)}){tally}", None, cover
        return "harness: the trigger did not fire the program (no value recorded)", \
            Result(case.id, "", Outcome.HARNESS, "oracle: the trigger did not fire the program"), cover
    judged = [v for v in verdicts if v.basis]
    wrong = [v for v in verdicts if v.wrong]
    if not wrong:
        volatile = [v for v in verdicts if v.volatile]
        if volatile:
            return f"agrees: {len(judged)} site(s) read the original expression " \
                   f"({len(volatile)} proved by address alone: the value changed between the two reads)" \
                   f"{tally}", None, cover
        return f"agrees: {len(judged)} site(s) read the original expression{tally}", None, cover
    details = "".join(f"wrong read: {describe(v)}\n" for v in wrong)
    first = wrong[0]
    message = f"the rewrite of {case.path.name}:{first.site.line}:{first.site.col} {first.site.text} " \
              f"reads another address: {describe(first)}"
    return f"WRONG-READ at {len(wrong)} site(s){tally}", Result(case.id, "", Outcome.WRONG_READ, message,
                                                                 details=details), cover


COVERAGE_FILE = "oracle-coverage.json"


def record_coverage(path: Path, cell_name: str, by_case: Dict[str, Coverage]) -> None:
    """The cell's coverage figures beside its results: totals and per case."""
    total = Coverage()
    for cover in by_case.values():
        total.merge(cover)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cell": cell_name, "total": total.to_json(),
                                "cases": {k: v.to_json() for k, v in sorted(by_case.items())}}, indent=1))


def coverage_table(run_path: Path) -> Optional[Table]:
    """The oracle's coverage per cell of a run (None when the oracle did not run): sites judged by address,
    by value only, not judged with each reason, and sites in cases the oracle does not run."""
    files = sorted(run_path.glob(f"cells/*/{COVERAGE_FILE}"))
    if not files:
        return None
    table = Table(title="value oracle coverage (sites)")
    for col in ("cell", "by address", "by value only", "not judged (why)", "in cases not run (why)"):
        table.add_column(col, overflow="fold")
    for f in files:
        data = json.loads(f.read_text())
        cover = Coverage.from_json(data["total"])
        judged = cover.total
        table.add_row(data["cell"], f"{cover.by_address}" + (f" ({cover.by_address * 100 // judged}%)" if judged else ""),
                      str(cover.by_value), _reasons(cover.not_judged), _reasons(cover.not_run))
    return table


def _reasons(counter: Counter) -> str:
    return "\n".join(f"{n} {why}" for why, n in counter.most_common()) or "0"
