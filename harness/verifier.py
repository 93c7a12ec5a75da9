"""Verifier logs: the category of a rejection and the line that decided it.

Handles the wordings of every kernel in the matrix: 5.10 `R1 invalid mem access 'inv'`, 6.1+
`R1 invalid mem access 'scalar'`, and the structured `Verification failed: <Class>: <Subclass>` lines
reported for mainline 7.3.
"""

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

# Checked in order; the first category whose pattern matches a line wins.
CATEGORIES = [
    ("invalid-mem-access", re.compile(r"R\d+ invalid mem access '(inv|scalar)'")),
    ("ctx-access", re.compile(r"invalid bpf_context access|invalid access to context")),
    ("unknown-helper", re.compile(r"unknown func |invalid func |program of this type cannot use helper")),
    ("invalid-mem-access", re.compile(r"invalid mem access")),
]
STRUCTURED = re.compile(r"Verification failed: ([\w-]+)(?:: ([\w-]+))?")
# What the structured classes map to, where they say the same as an old wording.
STRUCTURED_CATEGORIES = {"InvalidMemAccess": "invalid-mem-access", "ContextAccess": "ctx-access",
                         "UnknownHelper": "unknown-helper"}
SOURCE_LINE = re.compile(r"^; (.*?)(?: @ [^\s:]+:(\d+))?$")    # BTF line info; 6.12+ add `@ main.c:NN`
INSN = re.compile(r"^(\d+): \([0-9a-f]{2}\)")
SCALAR_LOAD = re.compile(r"R(\d+) invalid mem access '(inv|scalar)'")

@dataclass(frozen=True)
class Rejection:
    category: str           # invalid-mem-access | ctx-access | unknown-helper | other
    line: str               # the log line that decided it
    source: str             # the program's source line the verifier showed just before it ("" if none)
    tail: str               # the last lines of the log, for messages
    insn: Optional[int] = None      # index of the instruction it stopped at (None if the log shows none)
    source_line: int = 0            # the compiled (rewritten) file's line, where the log says it

    @property
    def scalar_load(self) -> bool:
        """A load through a register holding a plain number: what an unrewritten kernel pointer gives."""
        return bool(SCALAR_LOAD.search(self.line))

    def summary(self) -> str:
        where = f" at `{self.source.strip()}`" if self.source else ""
        return f"{self.category}: {self.line.strip()}{where}"


def parse_rejection(log: str, tail_lines: int = 8) -> Optional[Rejection]:
    lines = [ln for ln in log.splitlines() if ln.strip()]
    if not lines:
        return None
    tail = "\n".join(lines[-tail_lines:])
    for i, ln in enumerate(lines):
        m = STRUCTURED.search(ln)
        if m:
            category = STRUCTURED_CATEGORIES.get(m.group(1), "other")
            return _at(category, lines, i, tail)
    for category, pattern in CATEGORIES:
        for i, ln in enumerate(lines):
            if pattern.search(ln):
                return _at(category, lines, i, tail)
    decisive = next((ln for ln in reversed(lines) if not ln.startswith(("processed ", "HINT:", "bpf:"))),
                    lines[-1])
    return _at("other", lines, lines.index(decisive), tail, with_source=False)


def _at(category: str, lines: List[str], i: int, tail: str, with_source: bool = True) -> Rejection:
    source, number = _source_before(lines, i) if with_source else ("", 0)
    insn = next((int(m.group(1)) for j in range(i, -1, -1) for m in [INSN.match(lines[j])] if m), None)
    return Rejection(category, lines[i], source, tail, insn, number)


def _source_before(lines: List[str], i: int) -> Tuple[str, int]:
    for j in range(i, -1, -1):
        m = SOURCE_LINE.match(lines[j])
        if m and m.group(1).strip():
            return m.group(1), int(m.group(2) or 0)
    return "", 0
