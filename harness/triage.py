"""Triage of a rewriter bug report: a C program (or a Python script that builds one with BPF(text=...))
run across the matrix, classified per cell, the change located across releases and kernels, optionally
reduced with C-Vise to the smallest program with the same failure signature, and kept as a case.

Safety: the report is untrusted. Its Python runs only in the report sandbox (sandbox.py: an unprivileged
user namespace with no capability over the host, its own PID/mount/network/IPC/UTS namespaces, a
read-only root, a /dev of null, zero and urandom, memory/process/CPU/file-size caps) to extract the C
text. Its program compiles on the host only in split mode's memory-capped compile sandbox, with an
allow-list of compiler flags, and loads only inside VMs, never into the host kernel.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .backends import backend_for
from .backends.base import new_guest_input
from .backends.qemu import QemuBackend
from .backends.split import personality, run_report_scripts
from .cases import Case, CaseError, parse_case
from .classify import Result
from .gates import version_tuple
from .images.build import kernel_image, rewriter_image
from .matrix import Cell, Matrix
from .observation import Observation
from .pipeline import run_cell
from .progress import Progress, silent
from .report_attach import Skipped, Unusable, attach_points, recorded_calls, shown, without_calls
from .sandbox import Sandboxed, unsafe_cflags

MAX_REPORT_BYTES = 256 * 1024
EXTRACT_TIMEOUT = 60


class TriageError(RuntimeError):
    pass


def program_text(path: Path, matrix: Matrix, progress: Progress = silent,
                 workdir: Optional[Path] = None) -> Tuple[str, str]:
    """(C text, how it was obtained). A Python report runs in the report sandbox (sandbox.py) with BPF()
    recording its text; its scratch directory is kept under `workdir` when one is given."""
    data = path.read_bytes()
    if len(data) > MAX_REPORT_BYTES:
        raise TriageError(f"{path}: {len(data)} bytes, more than the {MAX_REPORT_BYTES} a report may have")
    text = data.decode("utf-8", errors="replace")
    if path.suffix != ".py" and not text.startswith("#!"):
        return _checked(path, text), "C program as given"
    rewriter = matrix.packaged[-1]      # the newest release runs the script (a source row may not be built)
    kernel_spec = next((k for k in matrix.kernels.values() if k.suite == rewriter.suite),
                       list(matrix.kernels.values())[-1])
    root, kernel = rewriter_image(rewriter, progress), kernel_image(kernel_spec, progress)
    pers = personality(kernel, root, QemuBackend(), progress)
    work = workdir or Path(tempfile.mkdtemp(prefix="harness-extract-"))
    try:
        inp = work / "in"
        new_guest_input(inp)
        (inp / "tools").mkdir()
        shutil.copy(path, inp / "tools" / "report.py")
        (inp / "job.json").write_text(json.dumps({"mode": "extract", "tools": ["report.py"],
                                                  "case_timeout": EXTRACT_TIMEOUT}))
        ran = run_report_scripts(root, kernel, pers, inp, work, "extract", EXTRACT_TIMEOUT + 30)
        info = _json(ran.out / "report.py.json")
        extracted = ran.out / "report.py.c"
        text = extracted.read_text(errors="replace") if extracted.is_file() else ""
        if ran.problem or not text.strip():
            raise TriageError(f"{path}: the report's script failed: {script_failure(ran, info)}")
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return _checked(path, text), f"extracted from {path.name} run with no arguments (bcc {rewriter.name})"


def script_failure(ran: Sandboxed, info: dict) -> str:
    """Why a report's script gave no program: how it ended, the caps it hit, its last stderr line."""
    last = (info.get("stderr") or "").strip().splitlines()[-1:]
    code = info.get("exit", ran.exit)
    if ran.problem:
        why = ran.problem
    elif code == 0:
        why = "it never called BPF(text=...) with its default options"
    else:
        why = f"it exited {code}" if isinstance(code, int) else f"it ended with {code}"
    if ran.hit:
        why += f"; it reached the sandbox's cap on {' and '.join(ran.hit)}"
    return why + (f" ({last[0][:200]})" if last else "")


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _checked(path: Path, text: str) -> str:
    """The program, unless it asks clang for flags an untrusted program may not use on the host."""
    flags = [f for line in text.splitlines() if line.lstrip().startswith("// CFLAGS:")
             for f in line.split(":", 1)[1].split()]
    bad = unsafe_cflags(flags)
    if bad:
        raise TriageError(f"{path}: the report asks for compiler flags an untrusted program may not use: "
                          f"{' '.join(bad)} (allowed: -D, -U, -I, -O, -std=, -W<warning>, -w, -g)")
    return text


def as_case(text: str, name: str, root: Path, attach: List[str] = ()) -> Case:
    """The report as a report-only case (no site expectations: compile and load decide); `attach` are
    extra ATTACH points ("fn kind target"), added to those its kprobe__/kretprobe__ names imply, so the
    value oracle can run it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.c"
    text = without_calls(text)
    # Header lines go last, so line numbers stay those of the report.
    body = text if "// CASE:" in text else f"{text.rstrip()}\n// CASE: triage of {name}\n// REPORT-ONLY\n"
    if "// ATTACH:" not in text:
        body += "".join(f"// ATTACH: {a}\n" for a in list(attach) + implied_attach_points(text))
    path.write_text(body)
    return parse_case(path, root)


def report_case(text: str, name: str, root: Path, attach: List[str] = ()) -> Tuple[Case, List[Skipped]]:
    """as_case, with ATTACH points also from the attach calls a Python report made (where neither
    `attach` nor bcc's names give the function one), and the calls that give none, each with why."""
    case = as_case(text, name, root, attach)
    calls = recorded_calls(text)
    if not calls:
        return case, []
    if "// ATTACH:" in without_calls(text):     # the report's own ATTACH lines decide, as in as_case
        return case, [Skipped(shown(c), Unusable.OWN_LINES) for c in calls]
    points, skipped = attach_points(calls, [f.name for f in case.functions],
                                    {fn: (kind, target) for fn, kind, target in case.attach})
    if points:
        case = as_case(text, name, root, list(attach) + points)
    return case, skipped


AUTO_ATTACHED = re.compile(r"^\s*int\s+(kprobe|kretprobe)__(\w+)\s*\(", re.M)


def implied_attach_points(text: str) -> List[str]:
    """ATTACH points of the functions bcc attaches by name (kprobe__X, kretprobe__X)."""
    return [f"{kind}__{fn} {kind} {fn}" for kind, fn in AUTO_ATTACHED.findall(text)]


@dataclass(frozen=True)
class Signature:
    outcome: str          # the class before XFAIL gates
    detail: str           # what identifies the failure: diagnostic, verifier line + source line, header error
    category: str = ""

    def to_json(self) -> Dict[str, str]:
        return {"outcome": self.outcome, "detail": self.detail, "category": self.category}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\bR\d+\b", "R?", text)).strip()


def signature(result: Result, obs: Optional[Observation]) -> Signature:
    raw = (result.raw_outcome or result.outcome).label
    if raw in ("FN-VERIFIER", "REJECTED") and obs is not None:
        from .verifier import parse_rejection
        for fn in obs.functions:
            rej = parse_rejection(fn.verifier_log) if not fn.loaded else None
            if rej:
                where = f" at {_norm(rej.source)}" if rej.source.strip() else ""
                return Signature(raw, f"{_norm(rej.line)}{where}", rej.category)
    if raw in ("FP-SYNTAX", "FP-REFUSED"):   # the site and the diagnostic, not where (reduction moves lines)
        return Signature(raw, _norm(re.sub(r"\S+\.c:\d+(:\d+)?\s*", "", result.message)))
    if raw == "ENV":
        return Signature(raw, _norm(result.message.split(": ", 2)[-1])[:120])
    return Signature(raw, "")


def run_cells(case: Case, cells: List[Cell], mode: str, workdir: Path, jobs: int,
              progress: Progress = silent, oracle: bool = False) -> Dict[str, Tuple[Result, Optional[Observation]]]:
    def one(cell):
        out = run_cell(cell, [case], backend_for(mode, cell), workdir / cell.name, progress,
                       oracle=oracle and bool(case.attach))
        obs = out.observations[0] if out.observations else None
        return cell.name, (out.results[0], obs)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(pool.map(one, cells))


def localize(cells: List[Cell], labels: Dict[str, str]) -> List[str]:
    """Where behaviour changes: first release where the class changes, per kernel; kernels that differ,
    per release."""
    lines = []
    rewriters = sorted({c.rewriter.name for c in cells}, key=lambda n: version_tuple(n.split("-")[-1]))
    kernels = sorted({c.kernel.name for c in cells}, key=lambda n: version_tuple(n.split("-")[-1]))
    for k in kernels:
        seq = [(r, labels.get(f"{r}@{k}")) for r in rewriters if f"{r}@{k}" in labels]
        for (r0, a), (r1, b) in zip(seq, seq[1:]):
            if a != b:
                lines.append(f"on {k}: {a} with {r0}, {b} from {r1} on")
    for r in rewriters:
        seq = {k: labels.get(f"{r}@{k}") for k in kernels if f"{r}@{k}" in labels}
        if len(set(seq.values())) > 1:
            lines.append(f"with {r}: " + ", ".join(f"{k} {v}" for k, v in seq.items()))
    return lines or ["the same class in every cell"]


REWRITE_ANNOTATION = re.compile(r"\s*(//\s*)?expect-rewrite(@[+-]?\d+)?\{\{.+?\}\}")


def annotate(text: str, sites: List) -> str:
    """The text with its expect-rewrite annotations replaced by one per given site (on the site's line)."""
    by_line: Dict[int, List[str]] = {}
    for s in sites:
        if s.line:
            by_line.setdefault(s.line, []).append(s.text)
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if "expect-rewrite" in line:
            stripped = REWRITE_ANNOTATION.sub("", line).rstrip()
            line = stripped[:-2].rstrip() if stripped.endswith("//") else stripped
        if line.strip() == "//":
            continue
        if n in by_line:
            line = line + "  // " + " ".join(f"expect-rewrite{{{{{t}}}}}" for t in by_line[n])
        out.append(line)
    return "\n".join(out) + "\n"


def expectations_from(case_text: str, results: Dict[str, Tuple[Result, Optional[Observation]]],
                      reference: str) -> str:
    """A reviewable case: the reference cell's rewrite sites as expect-rewrite lines, rejections as
    notes, the whole marked for review."""
    result, obs = results[reference]
    lines = [ln for ln in annotate(case_text, list(result.actual_sites)).splitlines()
             if ln.strip() != "// REPORT-ONLY" and not ln.startswith("// CASE: triage of")]
    lines.insert(0, f"// CASE: triage of a report ({reference}); describe what it pins down")
    notes = [f"// REVIEW: written by `python -m harness triage` from what {reference} did; check that every",
             "// expectation states what a correct rewriter must do, then remove these REVIEW lines."]
    if obs:
        for fn in obs.functions:
            if not fn.loaded:
                notes.append(f"// TRIAGE: {fn.name} was rejected in {reference}: "
                             f"{(result.log_line or fn.error).strip()[:150]}")
    return "\n".join(lines[:1] + notes + lines[1:]) + "\n"


def reduce(case_text: str, sig: Signature, cell: str, budget: float, workdir: Path, mode: str,
           echo=print) -> Tuple[str, float]:
    """C-Vise with an interestingness test that demands the exact signature in `cell`. Returns the
    smallest program found within `budget` seconds (the input itself if nothing smaller keeps it)."""
    if shutil.which("cvise") is None:
        raise TriageError("cvise is not installed (Debian: apt-get install cvise)")
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / "report.c"
    target.write_text(case_text)
    (workdir / "signature.json").write_text(json.dumps(sig.to_json()))
    root = Path(__file__).resolve().parent.parent
    test = workdir / "interesting.sh"
    # C-Vise runs the test in a scratch folder holding its candidate report.c (the cwd).
    test.write_text(f"#!/bin/sh\nPYTHONPATH={root} exec {sys.executable} -m harness "
                    f"triage-check --signature {workdir / 'signature.json'} --cell {cell} --mode {mode} "
                    f"\"$PWD/report.c\"\n")
    test.chmod(0o755)
    t0 = time.monotonic()
    proc = subprocess.Popen(["cvise", "--n", "1", "--timeout", "300", "--tidy", str(test), target.name],
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    import os
    import select
    import signal
    buffered = ""
    try:
        while proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096).decode(errors="replace")
                buffered += chunk
                *lines, buffered = buffered.split("\n")
                for line in lines:
                    if line.strip():
                        echo(f"cvise: {line.rstrip()[:160]}")
            if time.monotonic() - t0 > budget:
                echo(f"cvise: time budget of {budget:.0f}s reached; keeping the best program so far")
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return target.read_text(), time.monotonic() - t0


def check(candidate: Path, sig: Signature, cell: Cell, mode: str) -> bool:
    """The interestingness test: does this candidate fail with exactly `sig` in `cell`?"""
    try:
        with tempfile.TemporaryDirectory(prefix="harness-check-") as tmp:
            case = as_case(candidate.read_text(errors="replace"), "candidate", Path(tmp) / "cases")
            (result, obs), = run_cells(case, [cell], mode, Path(tmp) / "work", 1,
                                       oracle=sig.outcome == "WRONG-READ").values()
            return signature(result, obs) == sig
    except (CaseError, TriageError, OSError):
        return False
