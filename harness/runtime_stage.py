"""Runtime checks as a pipeline stage: cases with EXPECT-MAP lines are attached in the guest (tracing
hooks, or tc/XDP/socket programs on a veth pair into a namespace the guest makes), their trigger runs,
and the map values are compared with the expected ones. A trigger that does not fire is harness trouble."""

import json
import operator
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

from .backends.base import Backend, guest_dir_name
from .cases import Case
from .classify import Result, apply_gates
from .images.store import Image
from .observation import Observation
from .oracle_stage import program_entry
from .outcome import Outcome
from .progress import Progress

OPS = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le, ">": operator.gt,
       "<": operator.lt}


def _eligible(case: Case, obs: Optional[Observation], result: Result) -> bool:
    raw = result.raw_outcome or result.outcome
    return bool(case.expect_map) and obs is not None and raw in (Outcome.PASS, Outcome.FP_EXTRA) and \
        all(f.loaded for f in obs.functions)


def judge(case: Case, data: dict, extra_sites: bool) -> Result:
    if data.get("missing"):     # the environment's: this kernel lacks the function or tracepoint
        return Result(case.id, "", Outcome.ENV, f"runtime check: this kernel has no {data['missing']}",
                      details=data.get("error", ""))
    if data.get("error"):
        return Result(case.id, "", Outcome.HARNESS, f"runtime check: {data['error']}")
    values = data.get("values", {})
    if all(v is None or v == 0 for v in values.values()):
        return Result(case.id, "", Outcome.HARNESS,
                      "runtime check: the trigger did not fire the program (every expected map value is empty)")
    wrong, right = [], []
    for name, key, op, want in case.expect_map:
        symbol = want if isinstance(want, str) else ""
        if symbol:                      # $PID / $PPID: known only once the trigger ran
            want = data.get(symbol[1:].lower())
        got = values.get(f"{name}[{key}]")
        if got is None or not OPS[op](got, want):
            wrong.append(f"{name}[{key}] is {got}, expected {op} {want}")
        else:   # what held, in words that stay the same from run to run (fidelity compares them)
            right.append(f"{name}[{key}] {op} {symbol}" if symbol else
                         f"{name}[{key}] = {got}" if op == "==" else f"{name}[{key}] {op} {want}")
    if not wrong:
        return Result(case.id, "", Outcome.PASS, f"runtime: {', '.join(right)} as expected")
    outcome = Outcome.FP_RUNTIME if extra_sites else Outcome.FN_RUNTIME
    return Result(case.id, "", outcome, "runtime: " + "; ".join(wrong), details="\n".join(wrong) + "\n")


def run_runtime(cell_name: str, rewriter: Image, kernel: Image, cases: List[Case],
                observations: List[Observation], results: List[Result], versions: Dict[str, str],
                workdir: Path, progress: Progress, backend: Backend) -> List[Result]:
    by_obs = {o.case_id: o for o in observations}
    by_result = {r.case_id: r for r in results}
    todo = [c for c in cases if c.id in by_result and _eligible(c, by_obs.get(c.id), by_result[c.id])]
    if not todo:
        return results
    files = {f"{guest_dir_name(c)}.c": c.text for c in todo}
    entries = [program_entry(c, {"runtime": f"cases/{guest_dir_name(c)}.c"}, sorted({e[0] for e in c.expect_map}),
                             expect_map=[list(e) for e in c.expect_map]) for c in todo]
    run = backend.run_programs("runtime", entries, files, rewriter, kernel, workdir / "runtime",
                               f"runtime {cell_name}", progress)
    updated = {}
    for case in todo:
        try:
            data = json.loads((run.outdir / guest_dir_name(case) / "runtime.json").read_text())
        except (OSError, ValueError):
            data = {"error": f"no runtime result ({run.status}: {run.detail})"}
        base = by_result[case.id]
        verdict = judge(case, data, bool(base.extra))
        note = verdict.message
        if verdict.outcome is Outcome.PASS:
            updated[case.id] = replace(base, oracle=(base.oracle + "; " if base.oracle else "") + note)
        else:
            updated[case.id] = apply_gates(case, replace(base, outcome=verdict.outcome, message=verdict.message,
                                                         details=verdict.details + base.details,
                                                         oracle=(base.oracle + "; " if base.oracle else "") + note),
                                           versions)
    return [updated.get(r.case_id, r) for r in results]
