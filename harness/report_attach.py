"""ATTACH points from the attach calls a Python report makes, so that triage runs the value oracle on it
without --attach. The extract shim (guest/mode_extract.py) records each call as a `// ATTACH-CALL:` line
of JSON after the text; the record comes out of the report sandbox, so every field is checked here."""

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Dict, List, Tuple

from .cases import ATTACH_KINDS

CALL_LINE = re.compile(r"^// ATTACH-CALL:(.*)$", re.M)

# bcc's call -> (ATTACH kind, the argument naming one target, the one naming many by regex)
ORACLE_CALLS = {"attach_kprobe": ("kprobe", "event", "event_re"),
                "attach_kretprobe": ("kretprobe", "event", "event_re"),
                "attach_tracepoint": ("tracepoint", "tp", "tp_re"),
                "attach_raw_tracepoint": ("raw_tracepoint", "tp", "")}
assert all(kind in ATTACH_KINDS for kind, _, _ in ORACLE_CALLS.values())

IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
TARGET = re.compile(r"^[\w.:]+$")        # one word: kernel symbols may hold dots (foo.isra.0)


class Unusable(Enum):
    """Why a recorded attach call gives no ATTACH point."""
    UNREADABLE = "the recorder's line is not a call record"
    KIND = "the oracle attaches only kprobes, kretprobes, tracepoints and raw tracepoints"
    REGEX = "a regular expression names many events, not one ATTACH point"
    LIST = "a list of events is not one ATTACH point"
    NO_TARGET = "no single event named"
    NOT_A_FUNCTION = "not a program function of the report's text"
    SECOND_POINT = "the function has an ATTACH point already (a case has one per function)"
    OWN_LINES = "the report's own ATTACH lines decide"


@dataclass(frozen=True)
class Skipped:
    call: str           # the call as recorded, e.g. attach_kprobe(event_re='^vfs_', fn_name='count')
    why: Unusable

    def __str__(self) -> str:
        return f"{self.call}: {self.why.value}"


def recorded_calls(text: str) -> List[object]:
    """The recorded calls, in the order the report made them (a line that is not JSON stays as its text)."""
    calls = []
    for raw in CALL_LINE.findall(text):
        try:
            calls.append(json.loads(raw))
        except ValueError:
            calls.append(raw.strip())
    return calls


def without_calls(text: str) -> str:
    """The text with its call records blanked (line numbers stay); the case keeps ATTACH lines instead."""
    return CALL_LINE.sub("", text)


def shown(call: object) -> str:
    if not isinstance(call, dict):
        return repr(call)[:120]
    args = ", ".join(f"{k}={v!r}" for k, v in call.items() if k != "call")
    return f"{call.get('call', '?')}({args})"[:200]


def attach_points(calls: List[object], functions: List[str],
                  attached: Dict[str, Tuple[str, str]]) -> Tuple[List[str], List[Skipped]]:
    """ATTACH points ("fn kind target") for the calls the oracle can attach, and the others with why.
    `attached` (function -> (kind, target)) are points the case has already (--attach, bcc's kprobe__
    names): they win."""
    points: List[str] = []
    skipped: List[Skipped] = []
    taken = dict(attached)
    for call in calls:
        why, point = _point(call, functions)
        if point:
            fn, kind, target = point
            if fn not in taken:
                taken[fn] = (kind, target)
                points.append(" ".join(point))
                continue
            if taken[fn] == (kind, target):     # the same point again: nothing is lost
                continue
            why = Unusable.SECOND_POINT
        skipped.append(Skipped(shown(call), why))
    return points, skipped


def _point(call: object, functions: List[str]):
    """(None, (fn, kind, target)) for a call that is one ATTACH point, else (why not, None)."""
    if not isinstance(call, dict) or not isinstance(call.get("call"), str):
        return Unusable.UNREADABLE, None
    if call["call"] not in ORACLE_CALLS:
        return Unusable.KIND, None
    kind, one, many = ORACLE_CALLS[call["call"]]
    if many and call.get(many):
        return Unusable.REGEX, None
    target, fn = call.get(one), call.get("fn_name", call.get("fn"))
    if isinstance(target, list):
        return Unusable.LIST, None
    if not isinstance(target, str) or not TARGET.match(target) or (kind == "tracepoint" and ":" not in target):
        return Unusable.NO_TARGET, None
    if not isinstance(fn, str) or not IDENTIFIER.match(fn) or fn not in functions:
        return Unusable.NOT_A_FUNCTION, None
    return None, (fn, kind, target)
