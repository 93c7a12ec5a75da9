"""Case + Observation -> Result: the one place that decides a class, and the one that applies XFAIL.

Precedence, first match wins: harness trouble; diagnostics of bcc's rewriter itself (FP-REFUSED, or the
program's fault: see rewriter_diagnostics.py); errors located in headers (ENV); compile errors in the
rewritten program (FP-SYNTAX); errors in the original program (INVALID for a hand-written case, ENV for
imported ones); verifier rejections (FN-VERIFIER when a kernel pointer bcc left unrewritten is loaded
through, named by attribution.py; ENV for a helper the kernel lacks; otherwise INVALID for a hand-written
case, REJECTED for an imported one);
missing expected sites (FN-MISSING); extra sites (FP-EXTRA); PASS. Only rewriter bugs (FP-*, FN-*) can
become XFAIL, and only a PASS can become XPASS.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .attribution import ENVIRONMENT_REASONS, attribute, rejection_reason
from .cases import Case, ExpectedSite
from .observation import Diagnostic, FunctionLoad, Observation
from .outcome import Outcome
from .paths import display_path
from .rewriter_diagnostics import rewriter_diagnostic
from .sites import Site, compact, find_sites
from .verifier import Rejection, parse_rejection


@dataclass(frozen=True)
class Result:
    case_id: str
    cell: str
    outcome: Outcome
    message: str                       # one line: what decided the class
    details: str = ""                  # several lines: the site, the rewritten line, the log's last lines
    raw_outcome: Optional[Outcome] = None   # before XFAIL/XPASS
    missing: Tuple[Tuple[int, str], ...] = ()
    extra: Tuple[Tuple[int, str], ...] = ()
    actual_sites: Tuple[Site, ...] = ()
    verifier_category: str = ""
    log_line: str = ""
    probe_reads: int = 0
    insns: int = 0
    versions: Dict[str, str] = field(default_factory=dict)
    oracle: str = ""                   # what the value oracle said ("" when it was not asked)

    @property
    def label(self) -> str:
        return self.outcome.label


def _loc(case: Case, line: int, col: int = 0) -> str:
    return f"{display_path(case.path)}:{line}" + (f":{col}" if col else "")


def _totals(obs: Observation) -> Tuple[int, int]:
    return (sum(f.probe_read_calls for f in obs.functions),
            sum(f.insns or 0 for f in obs.functions))


def _rewritten_line(obs: Observation, n: int) -> str:
    lines = (obs.rewritten or "").splitlines()
    return lines[n - 1].strip() if 0 < n <= len(lines) else ""


def classify(case: Case, obs: Observation, versions: Dict[str, str]) -> Result:
    raw = _classify_raw(case, obs)
    return apply_gates(case, raw, versions)


def unsupported(case: Case, cell: str, versions: Dict[str, str]) -> Optional[Result]:
    """UNSUPPORTED when a REQUIRES line excludes this cell (the case is then not run)."""
    for gate in case.requires:
        if not gate.holds(versions):
            return Result(case.id, cell, Outcome.UNSUPPORTED, f"REQUIRES {gate.text} does not hold here",
                          versions=versions)
    return None


def apply_gates(case: Case, result: Result, versions: Dict[str, str]) -> Result:
    """A rewriter bug an XFAIL line predicts becomes XFAIL; a failure of another class than the one it
    names stays what it is (a new regression must not hide behind an old known bug); a PASS is XPASS."""
    from dataclasses import replace
    holding = [x for x in case.xfails if x.gate.holds(versions)]
    result = replace(result, raw_outcome=result.outcome, versions=versions)
    if not holding:
        return result
    gate = holding[0]
    if result.outcome.rewriter_bug:
        match = next((x for x in holding if x.predicts in ("", result.outcome.label)), None)
        if match is None:
            return replace(result, message=f"{result.message}; not the {gate.predicts} that XFAIL "
                                           f"{gate.gate.text} predicts ({gate.reason})")
        return replace(result, outcome=Outcome.XFAIL,
                       message=f"{result.outcome.label} as expected by XFAIL {match.gate.text} "
                               f"({match.reason}): {result.message}")
    if result.outcome is Outcome.PASS:
        runtime_only = (Outcome.WRONG_READ.label, Outcome.FN_RUNTIME.label, Outcome.FP_RUNTIME.label)
        if gate.predicts in runtime_only and not result.oracle:
            return replace(result, message=f"{result.message}; XFAIL {gate.gate.text} predicts {gate.predicts}, "
                                           f"which only the runtime checks (--oracle) can show")
        return replace(result, outcome=Outcome.XPASS,
                       message=f"passes, but XFAIL {gate.gate.text} says it fails here ({gate.reason})")
    return result


def _classify_raw(case: Case, obs: Observation) -> Result:
    calls, insns = _totals(obs)
    base = dict(case_id=case.id, cell=obs.cell, probe_reads=calls, insns=insns)
    if obs.status != "ok":
        return Result(outcome=Outcome.HARNESS, message=f"{obs.status}: {obs.detail}", **base)
    if not obs.compiled:
        return _compile_failure(case, obs, base)
    if obs.rewritten is None:
        return Result(outcome=Outcome.HARNESS,
                      message="bcc's output holds no rewritten text (DEBUG_PREPROCESSOR)", **base)

    actual = find_sites(case.text, obs.rewritten)
    missing, extra = compare_sites(case.sites, actual)
    if case.report_only:    # imported programs: where bcc rewrites is recorded, not judged
        extra = []
    site_lines = _site_details(case, obs, missing, extra)
    common = dict(missing=tuple((s.line, s.text) for s in missing),
                  extra=tuple((s.line, s.text) for s in extra), actual_sites=tuple(actual), **base)

    for fn in obs.functions:
        expectation = case.load_expectation(fn.name)
        if fn.loaded:
            if not expectation.ok:
                return Result(outcome=Outcome.INVALID,
                              message=f"{fn.name} loaded, but the case says expect-load: reject "
                                      f"{expectation.category}".rstrip(), details=site_lines, **common)
            continue
        rejection = parse_rejection(fn.verifier_log)
        if rejection is None:
            return Result(outcome=Outcome.ENV, details=site_lines,
                          message=f"the kernel refused {fn.name} ({fn.prog_type}) without a verifier log: "
                                  f"{fn.error}", **common)
        if not expectation.ok and expectation.category in ("", rejection.category):
            continue
        details = site_lines + _verifier_details(fn.name, rejection)
        if rejection.category == "unknown-helper":
            return Result(outcome=Outcome.ENV, details=details, verifier_category=rejection.category,
                          log_line=rejection.line,
                          message=f"{fn.name}: a helper this kernel lacks: {rejection.line.strip()}", **common)
        outcome, message = _blame_rejection(case, obs, fn, rejection, actual, missing)
        return Result(outcome=outcome, details=details, verifier_category=rejection.category,
                      log_line=rejection.line, message=message, **common)
    if missing:
        s = missing[0]
        return Result(outcome=Outcome.FN_MISSING, details=site_lines,
                      message=f"expected rewrite missing at {_loc(case, s.line, s.col)}: {s.text}"
                              + (f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""), **common)
    if extra:
        s = extra[0]
        return Result(outcome=Outcome.FP_EXTRA, details=site_lines,
                      message=f"unexpected rewrite at {_loc(case, s.line, s.col)}: {s.text} -> {s.helper}"
                              + (f" (+{len(extra) - 1} more)" if len(extra) > 1 else ""), **common)
    loaded_as = ", ".join(f"{f.name} as {f.prog_type}" for f in obs.functions)
    return Result(outcome=Outcome.PASS, message=f"{len(actual)} site(s) rewritten as expected; "
                                                f"{len(obs.functions)} function(s) loaded"
                                                + (f" ({loaded_as})" if loaded_as else ""), **common)


def _blame_rejection(case: Case, obs: Observation, fn: FunctionLoad, rejection: Rejection, actual: List[Site],
                     missing: List[ExpectedSite]) -> Tuple[Outcome, str]:
    """FN-VERIFIER when the rejection is a load through a kernel pointer bcc left unrewritten (named);
    otherwise the program's own fault: INVALID for a hand-written case, REJECTED for an imported one."""
    head = f"verifier rejected {fn.name}: {rejection.summary()}"
    if rejection.scalar_load:
        att = attribute(case.text, obs.rewritten or "", obs.compile_log, fn.name, rejection, actual,
                        _context_names(case))
        expected = [s for s in missing if s.line == att.line] or (missing if not att.line else [])
        if expected:
            s = expected[0]
            return Outcome.FN_VERIFIER, f"{head} (expected site not rewritten: {_loc(case, s.line, s.col)} {s.text})"
        if att.derefs:
            d = att.derefs[0]
            return Outcome.FN_VERIFIER, (f"{head} (kernel pointer dereference not rewritten: "
                                         f"{_loc(case, d.line, d.col)} {d.text}; line from {att.how})")
        if not att.line:
            return Outcome.FN_VERIFIER, f"{head} (a load through a plain number; no line info names the expression)"
    category, why = rejection_reason(rejection)
    if category in ENVIRONMENT_REASONS:
        return Outcome.ENV, f"this kernel cannot run {fn.name} ({category}: {why}): {head}"
    if case.report_only:
        return Outcome.REJECTED, f"rejected, not the rewriter ({category}: {why}): {head}"
    return Outcome.INVALID, f"the case's program is rejected for its own fault ({category}: {why}): {head}"


def _context_names(case: Case) -> Tuple[str, ...]:
    """The names program functions give their context (their first parameter), never kernel pointers."""
    names = {"ctx", "args"}
    lines = case.text.splitlines()
    for f in case.functions:
        header = " ".join(lines[f.first_line - 1:f.first_line + 2])
        m = re.search(r"\(([^,)]*?)(\w+)\s*[,)]", header)
        if m and "*" in m.group(1):
            names.add(m.group(2))
    return tuple(sorted(names))


def compare_sites(expected: Tuple[ExpectedSite, ...], actual: List[Site]):
    """(missing expected sites, extra actual sites), compared by (line, expression without blanks)."""
    want = Counter((s.line, compact(s.text)) for s in expected)
    have = Counter(s.key for s in actual)
    missing, extra = [], []
    left = want - have
    for s in expected:
        k = (s.line, compact(s.text))
        if left[k]:
            left[k] -= 1
            missing.append(s)
    over = have - want
    for s in actual:
        if over[s.key]:
            over[s.key] -= 1
            extra.append(s)
    return missing, extra


def _site_details(case: Case, obs: Observation, missing, extra) -> str:
    out = []
    src = case.text.splitlines()
    for s in missing:
        out.append(f"missing: {_loc(case, s.line, s.col)}: {s.text}\n    original: {src[s.line - 1].strip()}")
    for s in extra:
        out.append(f"extra:   {_loc(case, s.line, s.col)}: {s.text} ({s.form} via {s.helper})\n"
                   f"    rewritten: {_rewritten_line(obs, s.rewritten_line)}")
    return "\n".join(out) + ("\n" if out else "")


def _verifier_details(name: str, rejection: Rejection) -> str:
    tail = "\n".join("    " + ln for ln in rejection.tail.splitlines())
    return f"verifier ({name}): {rejection.summary()}\n  last lines of the log:\n{tail}\n"


# Errors in the program that say this release or kernel lacks something (a header, a helper, a macro),
# not that the program is wrong.
RELEASE_LACKS = re.compile(r"(implicit declaration of function|use of undeclared identifier) '(bpf_|BPF_)"
                           r"|' file not found")


def _in_original(case: Case, d: Diagnostic) -> bool:
    """Does the error sit in the case's own text? bcc inserts text of its own before the first pass
    (a TRACEPOINT_PROBE's args struct, from the kernel's tracepoint format): clang's quoted line says."""
    quoted = d.context.splitlines()[0] if d.context else ""
    lines = case.text.splitlines()
    return not quoted or (0 < d.line <= len(lines) and compact(quoted) == compact(lines[d.line - 1]))


def _compile_failure(case: Case, obs: Observation, base: dict) -> Result:
    """Three sources told apart: the rewriter refusing the program (its own diagnostics), clang on the
    rewritten text (FP-SYNTAX), clang on the original (the program's fault, or ENV in headers)."""
    errors: List[Diagnostic] = [d for d in obs.diagnostics if d.is_error]
    for d in errors:
        known = rewriter_diagnostic(d.message)
        if known is None or known.blame == "none":
            continue
        where = _loc(case, d.line, d.col) if d.in_main_file else d.render().split(": ")[0]
        if known.blame == "rewriter":
            return Result(outcome=Outcome.FP_REFUSED, log_line=d.render(), details=d.context,
                          message=f"the rewriter refused the program at {where}: {d.message}", **base)
        if known.blame == "environment" or case.report_only:
            return Result(outcome=Outcome.ENV, log_line=d.render(), details=d.context,
                          message=f"bcc's frontend cannot build the program here ({known.why}) at {where}: "
                                  f"{d.message}", **base)
        return Result(outcome=Outcome.INVALID, log_line=d.render(), details=d.context,
                      message=f"{where}: bcc's frontend rejects the case's program ({known.why}): {d.message}",
                      **base)
    in_headers = [d for d in errors if not d.in_main_file]
    if in_headers:
        d = in_headers[0]
        return Result(outcome=Outcome.ENV, log_line=d.render(), details=d.context,
                      message=f"compile error inside headers, not the program: {d.render()}", **base)
    rewritten = [d for d in errors if d.phase == 2]
    if rewritten:
        d = rewritten[0]
        line = _rewritten_line(obs, d.line)
        sites = find_sites(case.text, obs.rewritten) if obs.rewritten else []
        near = [s for s in sites if s.rewritten_line == d.line]
        where = f" at the rewrite of {_loc(case, near[0].line, near[0].col)} {near[0].text}" if near else ""
        return Result(outcome=Outcome.FP_SYNTAX, log_line=d.render(), actual_sites=tuple(sites),
                      details=f"rewritten line {d.line}: {line}\n{d.context}",
                      message=f"the rewritten program does not compile{where}: {d.message}", **base)
    original = [d for d in errors if d.phase == 1]
    if original:
        d = original[0]
        if case.report_only or RELEASE_LACKS.search(d.message) or not _in_original(case, d):
            return Result(outcome=Outcome.ENV, log_line=d.render(), details=d.context,
                          message=f"the program does not compile with this release before any rewrite "
                                  f"(line {d.line}): {d.message}", **base)
        return Result(outcome=Outcome.INVALID, log_line=d.render(), details=d.context,
                      message=f"{_loc(case, d.line, d.col)}: the case's program does not compile before any "
                              f"rewrite: {d.message}", **base)
    return Result(outcome=Outcome.HARNESS, message=f"bcc failed without a compiler diagnostic: "
                                                   f"{obs.compile_error}", **base)
