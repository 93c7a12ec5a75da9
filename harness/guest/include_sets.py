"""A program's include set: the leading #include lines (and guards that only set their own macro)
that shared headers (shared_headers.py) parse once per cell in a PCH, and the plan of which cases
share which prefix of them.

Stdlib only (this runs with the rewriter root's python3).
"""

import hashlib
import json
import re

# <...> only: a "..." include is looked up first beside the including file, which differs between
# bcc's /virtual/main.c and the PCH's header, so it ends the set
INCLUDE = re.compile(r'\s*#\s*include\s*(<[^>]+>)\s*$')
COMMENT = re.compile(r"\s*(//.*|/\*.*\*/\s*)?$")


# A guard that only sets one macro's state: `#ifndef M / #define M ... / #endif` (bcc's tools guard
# KBUILD_MODNAME so) or `#ifdef M / #undef M / #endif`. Its three lines are one entry of a set.
GUARD = re.compile(r"\s*#\s*(ifndef|ifdef)\s+(\w+)\s*\n\s*#\s*(define|undef)\s+(\w+)(?:[ \t][^\n]*)?\n"
                   r"\s*#\s*endif(?:\s*(?://.*|/\*.*\*/))?\s*(?:\n|$)")


def include_lines(text):
    """The program's first block of #include lines (blank and one-line comment lines may sit between
    them); the first other line after it ends the set. Before the block, C without any preprocessor
    line may come first (bcc's tools open with their container-filter functions): it cannot change
    how the headers preprocess, so parsing them first in the PCH leaves them as they were. A GUARD
    before or among the #include lines is an entry of the set, parsed in the PCH where it stands;
    the compile runs it again after the PCH, which changes nothing when the macro's state at the end
    of the set is the one the guard leaves (guard_checks makes the PCH build fail otherwise). Any
    other directive first (#define, a "..." include) and the set is empty."""
    return _include_block(text)[0]


def guard_checks(lines):
    """What the PCH's header ends with: for each GUARD of the set, an #error unless the macro's state
    after the whole set is the one the guard leaves, so that running it again is a no-op."""
    checks = []
    for entry in lines:
        m = GUARD.match(entry + "\n")
        if m:
            checks.append("#%s %s\n#error harness: the include set changes %s after its guard\n#endif"
                          % (m.group(1), m.group(2), m.group(2)))
    return checks


def entry_at(lines, line):
    """The 1-based entry of a set holding line `line` of its PCH header, None past them (or for None)."""
    if line is None:
        return None
    first = 1
    for k, entry in enumerate(lines, 1):
        first += entry.count("\n") + 1
        if line < first:
            return k
    return None


def include_block_end(text):
    """Where code may be added to the program without changing its include set: just past the last
    line of include_lines (0 when there is none)."""
    return _include_block(text)[1]


def include_entry_lines(text):
    """The program's line number (1-based) of each entry of include_lines (a guard's last line)."""
    return _include_block(text)[2]


def _include_block(text):
    lines, end, pos, included, at = [], 0, 0, 0, []
    rows = text.splitlines(keepends=True)
    k = 0
    while k < len(rows):
        line = rows[k]
        pos += len(line)
        k += 1
        m = INCLUDE.match(line)
        if m:
            lines.append("#include " + m.group(1))
            at.append(k)
            end, included = pos, len(lines)
            continue
        guard = GUARD.match(line + "".join(rows[k:k + 2]))
        if guard and guard.group(2) == guard.group(4) and \
                (guard.group(1), guard.group(3)) in (("ifndef", "define"), ("ifdef", "undef")):
            lines.append("\n".join(row.strip() for row in rows[k - 1:k + 2]))
            pos += len(rows[k]) + len(rows[k + 1])
            k += 2
            at.append(k)
        elif line.lstrip().startswith("#"):
            break
        elif lines and not COMMENT.match(line):
            break
    return lines[:included], end, at[:included]     # a guard after the last #include stays the program's


def set_key(lines, cflags):
    """An include set's key within a cell, or '' when it cannot be shared: no include, or a cflag with
    white space (bcc prints its cc1 line unquoted, so it could not be read back)."""
    if not lines or any(re.search(r"\s", f) for f in cflags):
        return ""
    return hashlib.sha256(json.dumps([list(lines), list(cflags)]).encode()).hexdigest()[:16]


def plan(entries):
    """{case id: (key, include lines)} for (id, include lines, cflags) entries: each case takes the
    longest prefix of its include lines that another case of the cell starts with too (its other
    includes are parsed as before, after the PCH); a case sharing no prefix takes all its lines."""
    counts = {}

    def cut(lines, k, cflags):      # a prefix worth a PCH ends with an #include, not a guard
        return set_key(lines[:k], cflags) if lines[k - 1].startswith("#include") else ""
    for _, lines, cflags in entries:
        for k in range(1, len(lines) + 1):
            key = cut(lines, k, cflags)
            if key:
                counts[key] = counts.get(key, 0) + 1
    chosen = {}
    for cid, lines, cflags in entries:
        for k in range(len(lines), 0, -1):
            key = cut(lines, k, cflags)
            if key and counts[key] > 1:
                chosen[cid] = (key, lines[:k])
                break
        else:
            # bcc parses the headers three times per program: a PCH of its own, built once, still
            # saves about two of them
            key = set_key(lines, cflags)
            if key:
                chosen[cid] = (key, lines)
    return chosen
