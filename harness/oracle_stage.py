"""The oracle as a pipeline stage: after a cell's cases are classified, run the probe and twin programs
of every case that loads and says where it attaches, in one more boot of the cell's kernel, and turn any
value difference into WRONG-READ. The backend decides where bcc compiles them: in the guest (guest mode)
or on the host with the kernel's personality, the guest's loader attaching them (split mode)."""

import json
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Tuple

from .backends.base import Backend, guest_dir_name
from .cases import Case
from .classify import Result, apply_gates
from .images.store import Image
from .observation import Observation, split_compile_log
from .oracle import OracleError, Programs, build, describe, judge
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
    want = sorted(compact(s.text) for s in programs.sites)
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
                 "tables": tables}, **extra)


def run_oracle(cell_name: str, rewriter: Image, kernel: Image, cases: List[Case],
               observations: List[Observation], results: List[Result], versions: Dict[str, str],
               workdir: Path, progress: Progress, backend: Backend) -> List[Result]:
    by_obs = {o.case_id: o for o in observations}
    todo: List[Tuple[Case, Programs]] = []
    notes: Dict[str, str] = {}
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
        if why:
            notes[case.id] = why
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
            notes[case.id], outcomes[case.id] = _verdict(case, programs, out, run.status, run.detail)
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


def _verdict(case: Case, programs: Programs, out: Path, run_status: str, run_detail: str):
    try:
        data = json.loads((out / "oracle.json").read_text())
    except (OSError, ValueError):
        return f"harness: no oracle result ({run_status}: {run_detail})", None
    if data.get("error"):
        # The twin reads each site with its own helper call; a twin the kernel refuses (e.g. a subscript
        # of a pointer member, whose pointer the twin cannot read without typeof) cannot be judged.
        if data["error"].startswith("twin"):
            return f"cannot judge: {data['error']}", None
        return f"harness: {data['error']}", None
    if data.get("stage") != "done":
        return f"harness: the oracle stopped at {data.get('stage')}", None
    problem = _check_rewrites(case.id, programs, out)
    if problem:
        return f"cannot judge: {problem}", None
    verdicts = judge(programs, _values(data["values"].get("probe", {})), _values(data["values"].get("twin", {})))
    silent = [v for v in verdicts if v.rewritten is None or v.reference is None]
    if len(silent) == len(verdicts):
        return "harness: the trigger did not fire the program (no value recorded)", \
            Result(case.id, "", Outcome.HARNESS, "oracle: the trigger did not fire the program")
    wrong = [v for v in verdicts if v.wrong]
    if not wrong:
        volatile = [v for v in verdicts if v.volatile]
        if volatile:
            return f"agrees: {len(verdicts) - len(silent)} site(s) read the original expression " \
                   f"({len(volatile)} proved by address alone: the value changed between the two reads)", None
        return f"agrees: {len(verdicts) - len(silent)} site(s) read the same value as the original " \
               f"expression", None
    details = "".join(f"wrong read: {describe(v)}\n" for v in wrong)
    first = wrong[0]
    message = f"the rewrite of {case.path.name}:{first.site.line}:{first.site.col} {first.site.text} " \
              f"reads another address: {describe(first)}"
    return f"WRONG-READ at {len(wrong)} site(s)", Result(case.id, "", Outcome.WRONG_READ, message,
                                                           details=details)
