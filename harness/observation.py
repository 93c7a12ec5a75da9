"""What one case did in one cell, read from the guest program's raw files into plain data.

Every backend produces the same files (see guest/runner.py), so everything downstream (sites,
classification, store, report) sees one Observation shape however it was obtained.
"""

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

REWRITTEN_START = "#if defined(BPF_LICENSE)"
REWRITTEN_END = "#include <bcc/footer.h>"
DIAGNOSTIC = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): "
                        r"(?P<severity>fatal error|error|warning|note): (?P<message>.*)$")
MAIN_FILE = "/virtual/main.c"


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    col: int
    severity: str       # "error" | "fatal error" | "warning" | "note"
    message: str
    phase: int          # 1: on the original program (before the rewritten text is printed); 2: on the rewritten one
    context: str = ""   # clang's quoted source line and caret, as printed

    @property
    def is_error(self) -> bool:
        return "error" in self.severity

    @property
    def in_main_file(self) -> bool:
        return self.file == MAIN_FILE

    def render(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class FunctionLoad:
    name: str
    prog_type: str
    loaded: bool
    error: str = ""
    verifier_log: str = ""
    insns: Optional[int] = None
    probe_reads: Dict[str, int] = field(default_factory=dict)
    load_seconds: Optional[float] = None

    @property
    def probe_read_calls(self) -> int:
        return sum(self.probe_reads.values())


@dataclass(frozen=True)
class Observation:
    case_id: str
    cell: str
    status: str                  # "ok" | "crash" | "timeout" | "missing" | "no-bcc" | "vm-failed"
    detail: str = ""
    compiled: bool = False
    compile_error: str = ""
    rewritten: Optional[str] = None
    diagnostics: Tuple[Diagnostic, ...] = ()
    functions: Tuple[FunctionLoad, ...] = ()
    bcc_version: str = ""
    timings: Dict[str, float] = field(default_factory=dict)
    compile_log: str = ""

    def to_json(self) -> Dict:
        return asdict(self)

    @staticmethod
    def from_json(data: Dict) -> "Observation":
        data = dict(data)
        data["diagnostics"] = tuple(Diagnostic(**d) for d in data.get("diagnostics", ()))
        data["functions"] = tuple(FunctionLoad(**f) for f in data.get("functions", ()))
        return Observation(**data)


def split_compile_log(log: str) -> Tuple[Optional[str], Tuple[Diagnostic, ...]]:
    """bcc's debug output on fd 2 -> (rewritten main file, diagnostics with their phase).

    Order seen: a `clang -cc1` line, diagnostics of the first pass, the rewritten main file (printed even
    when compilation later fails), diagnostics of the second pass.
    """
    lines = log.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == REWRITTEN_START), None)
    end = None
    if start is not None:
        end = next((i for i in range(start, len(lines)) if lines[i].strip() == REWRITTEN_END), None)
    rewritten = "\n".join(lines[start:end + 1]) + "\n" if start is not None and end is not None else None
    diagnostics = []
    for i, ln in enumerate(lines):
        if start is not None and end is not None and start <= i <= end:
            continue
        m = DIAGNOSTIC.match(ln)
        if not m:
            continue
        phase = 2 if end is not None and i > end else 1
        context = "\n".join(lines[i + 1:i + 3]) if i + 2 < len(lines) else ""
        diagnostics.append(Diagnostic(m["file"], int(m["line"]), int(m["col"]), m["severity"],
                                      m["message"], phase, context))
    return rewritten, tuple(diagnostics)


def _last_error(log: str) -> str:
    """The last error line bcc or LLVM printed before dying, for the message (e.g. an LLVM abort)."""
    lines, kept, inside = log.splitlines(), [], False
    for ln in lines:     # not the rewritten text (cut short by a kill, it has no end marker): it is C, not a message
        if ln.strip() in (REWRITTEN_START, REWRITTEN_END):
            inside = ln.strip() == REWRITTEN_START
        elif not inside:
            kept.append(ln)
    errors = [ln.strip() for ln in kept if "error" in ln.lower() and len(ln) < 400]
    return f"; last error printed: {errors[-1]}" if errors else ""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def guest_status(outdir: Path) -> Dict[str, Tuple[str, float]]:
    """The runner's status file: case dir name -> (verdict, seconds)."""
    status = {}
    for line in _read(outdir / "status").splitlines():
        parts = line.rsplit(":", 2)
        if len(parts) == 3:
            status[parts[0]] = (parts[1], float(parts[2]))
    return status


def read_observation(case_id: str, cell: str, case_dir: Path, verdict: Optional[str],
                     run_problem: str = "") -> Observation:
    """One case's raw files -> Observation. `verdict` is its status line (None: the guest never got there)."""
    compile_log = _read(case_dir / "compile.log")
    rewritten, diagnostics = split_compile_log(compile_log)
    try:
        raw = json.loads((case_dir / "result.json").read_text())
    except (OSError, ValueError):
        raw = {}
    if verdict is None or verdict == "load-missing":     # the latter: split mode's loading boot never got to it
        status, detail = ("vm-failed", run_problem) if run_problem else \
            ("missing", f"the {'loading ' if verdict else ''}guest wrote no status for this case")
    elif verdict.startswith("timeout"):
        status, detail = "timeout", f"bcc did not finish within {verdict.split('-', 1)[1]}s"
    elif verdict.startswith("signal"):
        status, detail = "crash", f"the bcc process died with {verdict.replace('-', ' ')}" + _last_error(compile_log) + \
            (f"; {raw['limits']}" if raw.get("limits") else "")
    elif verdict != "exit-0" or not raw:
        status, detail = "crash", f"the bcc process ended with {verdict} without finishing"
    elif raw.get("error", "").startswith("import bcc failed"):
        status, detail = "no-bcc", raw["error"]
    elif raw.get("compiled") and not raw.get("done"):
        status, detail = "crash", "the bcc process stopped while loading"
    elif any(f.get("pending") for f in raw.get("functions", [])):
        status, detail = "missing", "compiled on the host, but the guest never loaded it"
    else:
        status, detail = "ok", ""
    functions = tuple(
        FunctionLoad(name=f["name"], prog_type=f.get("prog_type", ""), loaded=f.get("loaded", False),
                     error=f.get("error", ""), verifier_log=_read(case_dir / f.get("log", "")) if f.get("log") else "",
                     insns=f.get("insns"), probe_reads=f.get("probe_reads", {}),
                     load_seconds=f.get("load_seconds"))
        for f in raw.get("functions", []))
    return Observation(case_id=case_id, cell=cell, status=status, detail=detail,
                       compiled=bool(raw.get("compiled")),
                       compile_error=raw.get("error", "") if not raw.get("compiled") else "",
                       rewritten=rewritten, diagnostics=diagnostics, functions=functions,
                       bcc_version=raw.get("bcc_version", ""), timings=raw.get("timings", {}),
                       compile_log=compile_log)
