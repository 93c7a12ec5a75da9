"""How heavy a program's #include lines are past its include set's shared prefix (shared_headers.py).

bcc parses the headers past a PCH in each of its three passes; a PCH of all the program's lines (a set
of its own) parses them once, but parses the prefix again in its build. Measured over the corpus
(docs/findings/beyond-shared-headers.md section 15), the set of its own pays when the headers the
lines past the prefix add weigh at least as much as the prefix's: bytes of the header files reachable
by #include from the lines, each file once, conditionals ignored. Only a choice between two PCHs that
give the same compile (a set of its own is what a case sharing no prefix always gets), so a rough
measure is enough.

Stdlib only (this runs with the rewriter root's python3).
"""

import os
import re

from pch_build import compile_dir

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]', re.M)


def search_dirs(cc1):
    """The -I and -isystem directories of bcc's cc1 line, in order, relative ones against the dir bcc
    compiles from; bcc's in-memory /virtual headers are the same for every set and not on disk."""
    base = compile_dir(cc1) or "/"
    dirs = []
    for k, arg in enumerate(cc1):
        if arg in ("-I", "-isystem") and k + 1 < len(cc1):
            path = cc1[k + 1]
        elif arg.startswith("-I") and len(arg) > 2:
            path = arg[2:]
        else:
            continue
        if not path.startswith("/virtual"):
            dirs.append(os.path.normpath(os.path.join(base, path)))
    return base, dirs


class IncludeWeight:
    """Header files reachable from #include lines under one cc1 line; each file is read once."""

    def __init__(self, cc1):
        self.base, self.dirs = search_dirs(cc1)
        self.files = {}     # real path: (bytes, [(quoted, name)])
        self.found = {}     # (name, quoted, including dir): real path or None
        self.reached = {}   # tuple of #include lines: the real paths they reach

    def _read(self, path):
        if path not in self.files:
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("latin-1")
            except OSError:
                text = ""
            self.files[path] = (len(text), [(q == '"', name) for q, name in INCLUDE.findall(text)])
        return self.files[path]

    def _resolve(self, name, quoted, here):
        where = (name, quoted, here if quoted else "")
        if where not in self.found:
            self.found[where] = None
            for d in ([here] if quoted else []) + self.dirs:
                path = os.path.join(d, name)
                if os.path.isfile(path):
                    self.found[where] = os.path.realpath(path)
                    break
        return self.found[where]

    def reach(self, lines):
        if tuple(lines) not in self.reached:
            self.reached[tuple(lines)] = self._reach(lines)
        return self.reached[tuple(lines)]

    def header(self, name):
        """The real path of a header as clang names it in a diagnostic (relative to bcc's compile dir)."""
        return os.path.realpath(os.path.join(self.base, name))

    def _reach(self, lines):
        seen, stack = set(), []
        for line in lines:
            m = INCLUDE.match(line)
            if m:
                stack.append(self._resolve(m.group(2), m.group(1) == '"', self.base))
        while stack:
            path = stack.pop()
            if path is None or path in seen:
                continue
            seen.add(path)
            for quoted, name in self._read(path)[1]:
                stack.append(self._resolve(name, quoted, os.path.dirname(path)))
        return seen

    def split(self, prefix, lines):
        """(bytes the prefix's lines reach, bytes the other lines add)."""
        before = self.reach(prefix)
        after = self.reach(lines) - before
        return sum(self._read(p)[0] for p in before), sum(self._read(p)[0] for p in after)
