"""Two rewriters on the same kernels and cases: what a change to bcc fixed, broke or left alone.

Each case x kernel gets one verdict from the two results' classes before XFAIL (a fix changes which
rows an XFAIL line covers, so the gated class would hide it):
  fixed      it fails (a rewriter class, ENV, WRONG-READ...) before and passes after
  regressed  it passes before and fails after
  changed    it fails both times, with another class
  unchanged  the same class both times (the rewritten text may still differ; the evidence says)
  unresolved either side is harness trouble or an invalid case: nothing can be said
Evidence: every rewrite site with bcc's address expression before and after.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .classify import Result
from .outcome import Outcome


class Verdict(Enum):
    FIXED = "fixed"
    REGRESSED = "regressed"
    CHANGED = "changed class"
    UNCHANGED = "unchanged"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class SiteChange:
    line: int
    expr: str
    before: str          # bcc's address expression before ("" when this side has no rewrite there)
    after: str

    @property
    def differs(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Comparison:
    case_id: str
    kernel: str
    verdict: Verdict
    before: Result
    after: Result
    sites: Tuple[SiteChange, ...]
    rewritten_differs: Optional[bool] = None    # bcc's whole rewritten text, where both were recorded

    @property
    def text_changed(self) -> bool:
        return bool(self.rewritten_differs) or any(s.differs for s in self.sites)


def _raw(r: Result) -> Outcome:
    return r.raw_outcome or r.outcome


def verdict(before: Result, after: Result) -> Verdict:
    a, b = _raw(before), _raw(after)
    trouble = (Outcome.HARNESS, Outcome.INVALID)
    if a in trouble or b in trouble:
        return Verdict.UNRESOLVED
    if a is b:
        return Verdict.UNCHANGED
    if a is Outcome.PASS:
        return Verdict.REGRESSED
    if b is Outcome.PASS:
        return Verdict.FIXED
    return Verdict.CHANGED


def site_changes(before: Result, after: Result) -> Tuple[SiteChange, ...]:
    """Every site either side rewrote, in source order, with both address expressions."""
    a = {s.key: s.address for s in before.actual_sites}
    b = {s.key: s.address for s in after.actual_sites}
    return tuple(SiteChange(key[0], key[1], a.get(key, ""), b.get(key, "")) for key in sorted(set(a) | set(b)))


def compare(before: Sequence[Result], after: Sequence[Result], kernel_of,
            rewritten: Callable[[Result], Optional[str]] = lambda r: None) -> List[Comparison]:
    """Pair results of the same case on the same kernel; `kernel_of(cell name)` names the kernel and
    `rewritten(result)` gives bcc's rewritten text where it was recorded."""
    later: Dict[Tuple[str, str], Result] = {(r.case_id, kernel_of(r.cell)): r for r in after}
    out = []
    for r in before:
        key = (r.case_id, kernel_of(r.cell))
        other = later.get(key)
        if other is not None:
            texts = rewritten(r), rewritten(other)
            differs = texts[0] != texts[1] if None not in texts else None
            out.append(Comparison(r.case_id, key[1], verdict(r, other), r, other, site_changes(r, other), differs))
    return out


def counts(comparisons: Sequence[Comparison]) -> Dict[Verdict, int]:
    return {v: sum(1 for c in comparisons if c.verdict is v) for v in Verdict}


def exit_status(comparisons: Sequence[Comparison]) -> int:
    """1 on any regression, 2 when something could not be compared, else 0."""
    found = counts(comparisons)
    if found[Verdict.REGRESSED]:
        return 1
    return 2 if found[Verdict.UNRESOLVED] else 0


def to_json(c: Comparison) -> Dict:
    return {"case": c.case_id, "kernel": c.kernel, "verdict": c.verdict.value,
            "before": {"class": _raw(c.before).label, "shown": c.before.outcome.label, "message": c.before.message},
            "after": {"class": _raw(c.after).label, "shown": c.after.outcome.label, "message": c.after.message},
            "rewritten_differs": c.rewritten_differs,
            "sites": [{"line": s.line, "expr": s.expr, "before": s.before, "after": s.after} for s in c.sites]}


def interesting(comparisons: Sequence[Comparison], every: bool = False) -> List[Comparison]:
    """What a reader wants listed: everything but the unchanged (unless their text changed)."""
    return [c for c in comparisons if every or c.verdict is not Verdict.UNCHANGED or c.text_changed]


def headline(comparisons: Sequence[Comparison], a: str, b: str, kernels: Optional[List[str]] = None) -> str:
    found = counts(comparisons)
    where = f" on {', '.join(kernels)}" if kernels else ""
    texts = sum(1 for c in comparisons if c.rewritten_differs)
    return (f"{a} -> {b}{where}: " + ", ".join(f"{n} {v.value}" for v, n in found.items() if n)
            + f" ({len(comparisons)} case x kernel pairs; rewritten text differs in {texts})")
