"""Fidelity: the same cases in guest mode and split mode on one cell must give the same observations.

Compared: the rewritten text, the sites, each function's load verdict and verifier-log category, the
probe-read calls in the bytecode, and the class; with the runtime checks on, also what they found: the
value oracle's verdict (sites that agree, or WRONG-READ with bcc's byte offset) and the EXPECT-MAP values
(pids in their symbolic form, since each run's trigger has its own). In split mode the guest's own loader
attaches the programs bcc compiled on the host, so this is where its attach path is checked against bcc's.
Any difference is listed with what differs.
"""

import re

from dataclasses import dataclass
from typing import List, Optional

from .cases import Case
from .classify import Result
from .observation import Observation
from .sites import find_sites
from .verifier import parse_rejection


@dataclass(frozen=True)
class Difference:
    case_id: str
    what: str
    guest: str
    split: str


def _sites(case: Case, obs: Observation) -> str:
    if not obs.rewritten:
        return "-"
    return "; ".join(f"{s.line}:{s.col} {s.text}" for s in find_sites(case.text, obs.rewritten))


def _loads(obs: Observation) -> str:
    parts = []
    for fn in obs.functions:
        if fn.loaded:
            parts.append(f"{fn.name}=ok")
        else:
            rej = parse_rejection(fn.verifier_log)
            parts.append(f"{fn.name}=reject:{rej.category if rej else 'no-log'}")
    return ", ".join(parts) or "-"


def _calls(obs: Observation) -> str:
    return ", ".join(f"{fn.name}={fn.probe_read_calls}/{fn.insns}insns" for fn in obs.functions) or "-"


def compare(case: Case, guest: Optional[Observation], split: Optional[Observation],
            guest_result: Optional[Result], split_result: Optional[Result]) -> List[Difference]:
    if guest is None or split is None:
        return [Difference(case.id, "observation", "present" if guest else "missing",
                           "present" if split else "missing")]
    checks = [
        ("status", guest.status, split.status),
        ("rewritten text", "same" if guest.rewritten == split.rewritten else _first_diff(guest, split),
         "same" if guest.rewritten == split.rewritten else "(see guest column)"),
        ("sites", _sites(case, guest), _sites(case, split)),
        ("load verdicts", _loads(guest), _loads(split)),
        ("probe reads/insns", _calls(guest), _calls(split)),
        ("class", guest_result.label if guest_result else "-", split_result.label if split_result else "-"),
        ("runtime checks", oracle_verdict(guest_result) or "-", oracle_verdict(split_result) or "-"),
    ]
    return [Difference(case.id, what, g, s) for what, g, s in checks if g != s]


def oracle_verdict(result: Optional[Result]) -> str:
    """The runtime checks' verdict and, for a wrong read, bcc's byte offsets (stable; the bytes read at a
    wrong address need not be); "" when none ran."""
    if result is None or not result.oracle:
        return ""
    offsets = re.findall(r"[+-]?\d+ bytes off", result.message + result.details)
    return result.oracle + (f" ({', '.join(sorted(set(offsets)))})" if offsets else "")


def _first_diff(a: Observation, b: Observation) -> str:
    la, lb = (a.rewritten or "").splitlines(), (b.rewritten or "").splitlines()
    for n, (x, y) in enumerate(zip(la, lb), 1):
        if x != y:
            return f"line {n}: guest `{x.strip()}` vs split `{y.strip()}`"
    return f"{len(la)} vs {len(lb)} lines"
