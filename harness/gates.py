"""Version gates: `bcc<0.22`, `kernel>=5.5`, `patch=NAME`, `!patch=NAME`, `*`, joined by commas (all
must hold).

Used by REQUIRES and XFAIL lines in cases, and evaluated against a cell's exact versions. `patch=NAME`
holds in rows built from source with NAME.patch applied (vms/matrix.toml `patches`), so an XFAIL line
can say which rows carry a fix: `XFAIL: bcc<=0.37,!patch=array-member-subscript`.
"""

import operator
import re
from dataclasses import dataclass
from typing import Dict, Tuple

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}
SUBJECTS = ("bcc", "kernel")
CONDITION = re.compile(r"(bcc|kernel)(<=|>=|==|!=|<|>)(\d+(?:\.\d+)*)$")
PATCH = re.compile(r"(!?)patch=([\w.+-]+)$")


class GateError(ValueError):
    pass


def version_tuple(text: str) -> Tuple[int, ...]:
    m = re.match(r"\d+(?:\.\d+)*", text or "")
    if not m:
        raise GateError(f"not a version: {text!r}")
    return tuple(int(p) for p in m.group(0).split("."))


def _cmp_tuple(a: Tuple[int, ...], b: Tuple[int, ...]):
    """Compare at the precision written in the gate: kernel<6.1 holds for 6.0.x, not for 6.1.5."""
    return a[:len(b)], b


@dataclass(frozen=True)
class Gate:
    conditions: Tuple[Tuple[str, str, Tuple[int, ...]], ...]   # () means always
    text: str

    def holds(self, versions: Dict[str, str]) -> bool:
        for subject, op, wanted in self.conditions:
            if subject == "patch":
                applied = wanted in versions.get("patches", "").split(",")
                if applied != (op == "=="):
                    return False
                continue
            have = versions.get(subject)
            if not have:
                return False
            a, b = _cmp_tuple(version_tuple(have), wanted)
            if not _OPS[op](a, b):
                return False
        return True


def parse_gate(words: str) -> Tuple[Gate, str]:
    """Split 'bcc<0.22, kernel>=5.5 some reason' into the gate and the remaining text (the reason)."""
    rest = words.strip()
    conditions = []
    always = False
    while rest:
        head, _, tail = rest.partition(" ")
        parts = [p for p in head.split(",") if p]
        if head == "*":
            always = True
        elif parts and all(CONDITION.match(p) or PATCH.match(p) for p in parts):
            for p in parts:
                m = CONDITION.match(p)
                if m:
                    conditions.append((m.group(1), m.group(2), version_tuple(m.group(3))))
                else:
                    m = PATCH.match(p)
                    conditions.append(("patch", "!=" if m.group(1) else "==", m.group(2)))
        elif re.match(r"(bcc|kernel|!?patch)\W", head):
            raise GateError(f"malformed condition {head!r} (expected e.g. bcc<0.22 or kernel>=5.5)")
        else:
            break
        rest = tail.strip()
    if not conditions and not always:
        raise GateError(f"no condition in {words.strip()!r} (expected e.g. bcc<0.22, kernel>=5.5 or *)")
    used = words.strip()[: len(words.strip()) - len(rest)].strip()
    return Gate(tuple(conditions), used), rest
