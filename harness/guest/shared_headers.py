"""Shared kernel headers in split mode's compile: one clang precompiled header (PCH) per include set.

bcc parses the kernel headers three times per program (its tracepoint pass, the rewrite pass and the
final compile). Cases of one cell that start with the same #include lines and have the same cflags
share a PCH of the longest such prefix, built once by a clang of exactly the LLVM libbcc links, with
the cc1 options bcc itself printed (DEBUG_PREPROCESSOR) for the first case of those cflags. The case
is then compiled by bcc as before, with `-include-pch` added to its cflags.

Two details make clang accept the PCH inside bcc:
- bcc's own headers (helpers.h, bpf.h, ...) exist only in libbcc's memory; they are read out of the
  loaded library (virtual_files) and remapped to the same /virtual paths when the PCH is built;
- clang refuses a PCH whose input files are overridden later (bcc overrides its headers), unless the
  PCH embeds them: -fmodules-embed-all-files marks every input file transient and embeds it.

Stdlib only (this runs with the rewriter root's python3).
"""

import ctypes
import hashlib
import json
import os
import re
import shutil
import subprocess
import time

# <...> only: a "..." include is looked up first beside the including file, which differs between
# bcc's /virtual/main.c and the PCH's header, so it ends the set
INCLUDE = re.compile(r'\s*#\s*include\s*(<[^>]+>)\s*$')
COMMENT = re.compile(r"\s*(//.*|/\*.*\*/\s*)?$")
# compiled with a case's cflags only for bcc's cc1 line (Sharing._stub_cc1)
STUB = "int harness_cc1_stub(void *ctx) { return 0; }\n"
STUB_TIMEOUT = 300
# the work sharing adds to a case's timings (_note)
SHARING_TIMINGS = ("cc1_stub", "pch_build", "chain_build", "unshared_compile", "shared_compile")
# Chained PCHs from this clang on. Before it, an identifier a chained PCH holds hides a macro of the
# same name from the PCH it is built on (clang looks a name up in the newest PCH holding it and stops
# there; llvm-project PR 135471, "an identifier hiding a function-like macro definition", is in clang
# 21): bcc-0.26's sofdsnoop, whose net/sock.h chained on [ptrace, limits, sched] left `min` undefined,
# in clangs 11, 14 and 19 alike (docs/findings/beyond-shared-headers.md section 14).
CHAIN_FROM_CLANG = 21
# what a compile's own cc1 line has that a PCH build must not: its action, output and input
DROP = {"-emit-llvm-bc", "-emit-llvm-uselists"}


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


def cc1_args(log_text):
    """bcc's cc1 arguments, from the `clang -cc1 ...` line DEBUG_PREPROCESSOR writes first."""
    for line in log_text.splitlines():
        if line.startswith("clang -cc1 "):
            return line.split(" ")[2:]
    return None


def pch_argv(clang, cc1, remaps, header, out, base=None):
    """A PCH build with the options of bcc's compile: same parse, other action, input and output. On a
    `base` PCH, clang writes a chained PCH: only what the header adds, and a reference to the base."""
    args = list(cc1)
    if "-o" not in args or args[-3:-1] != ["-x", "c"]:
        raise ValueError("unexpected cc1 line shape: ... %s" % " ".join(args[-4:]))
    del args[-3:]                       # -x c /virtual/main.c
    i = args.index("-o")
    del args[i:i + 2]
    args = [a for a in args if a not in DROP]
    remap_args = []
    for virtual, real in remaps:
        remap_args += ["-remap-file", "%s;%s" % (virtual, real)]
    chain = ["-include-pch", base] if base else []
    return [clang, "-cc1"] + args + remap_args + chain + ["-fmodules-embed-all-files", "-emit-pch", "-o", out,
                                                          "-x", "c-header", header]


def compile_dir(cc1):
    """bcc compiles from the kernel's source dir (its -I paths are relative to it). clang 14 and later
    print it as -fdebug-compilation-dir=DIR, clang 11 as two words."""
    for k, a in enumerate(cc1):
        if a.startswith("-fdebug-compilation-dir="):
            return a.split("=", 1)[1]
        if a == "-fdebug-compilation-dir" and k + 1 < len(cc1):
            return cc1[k + 1]
    return None


def virtual_files(lib):
    """bcc's in-memory headers {path: bytes}, read from the loaded libbcc's ExportedFiles maps
    (std::map<std::string, const char *>, libstdc++'s red-black tree layout on x86-64)."""
    files = {}
    for symbol in ("_ZN4ebpf13ExportedFiles8headers_B5cxx11E", "_ZN4ebpf13ExportedFiles8footers_B5cxx11E"):
        words = ctypes.cast(ctypes.addressof(ctypes.c_char.in_dll(lib, symbol)), ctypes.POINTER(ctypes.c_void_p))
        found = {}
        stack = [words[2]]              # header node's parent = the root
        while stack:
            node = stack.pop()
            if not node:
                continue
            n = ctypes.cast(node, ctypes.POINTER(ctypes.c_void_p))
            found[ctypes.string_at(n[4], n[5]).decode()] = ctypes.string_at(n[8])
            stack += [n[2], n[3]]
        if len(found) != (words[5] or 0):
            raise RuntimeError("libbcc's %s: read %d files of %d" % (symbol, len(found), words[5] or 0))
        files.update(found)
    return files


def write_virtual_files(lib, dest):
    """bcc's headers as real files under dest, as (virtual path, real path) pairs for -remap-file."""
    remaps = []
    for path, content in sorted(virtual_files(lib).items()):
        real = os.path.join(dest, path.lstrip("/"))
        os.makedirs(os.path.dirname(real), exist_ok=True)
        with open(real, "wb") as f:
            f.write(content)
        remaps.append((path, real))
    return remaps


def set_header(workdir, key):
    """The header a set's PCH is built from (clang names it in the build's diagnostics)."""
    return os.path.join(workdir, "%s.h" % key)


def build_pch(clang, cc1, lines, key, workdir, remaps, base=None, checked=None):
    """Build one include set's PCH (on `base`: chained, of `lines` past it, with the guard checks of
    the `checked` lines, the whole set); returns (path, seconds, error, what clang printed)."""
    header = set_header(workdir, key)
    with open(header, "w") as f:
        f.write("\n".join(list(lines) + guard_checks(lines if checked is None else checked)) + "\n")
    out = os.path.join(workdir, "%s.pch" % key)
    t0 = time.monotonic()
    try:
        argv = pch_argv(clang, cc1, remaps, header, out, base)
        proc = subprocess.run(argv, cwd=compile_dir(cc1), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=300)
    except (ValueError, OSError, subprocess.SubprocessError) as e:
        return None, time.monotonic() - t0, str(e), ""
    if proc.returncode != 0:
        return None, time.monotonic() - t0, "clang exited %d: %s" % (proc.returncode, proc.stdout[-1500:]), proc.stdout
    return out, time.monotonic() - t0, "", proc.stdout


INCLUDED_FROM = re.compile(r"^In file included from (.+):(\d+):$")


def failing_include(printed, header):
    """Which of the set's #include lines (1-based) its failed PCH build's first error came from, read
    from clang's "In file included from" chain (outermost first), or None when the error is not inside
    one of them (bcc's own headers, the command line). Parsing stops nowhere before that line and
    depends on nothing after it, so any set of these cflags with the same lines up to it fails there."""
    where, _ = first_error(printed)
    return where[1] if where and where[0] == header else None


def first_error(printed):
    """((file, line) the first error is at, or was included from: the outermost "In file included
    from" line; the error's own line), or (None, "") when clang printed no error. clang prints a
    header's include chain once: a diagnostic right after another in the same header (kernel 7.2's
    fs.h warns at 2438, then fails at 2442) has none of its own, and shares that one's."""
    chain, last = [], (None, [])
    for line in printed.splitlines():
        m = INCLUDED_FROM.match(line)
        if m:
            chain.append((m.group(1), int(m.group(2))))
            continue
        d = DIAGNOSTIC.match(line)
        if d:
            where = line.split(":", 1)[0]
            if not chain and where == last[0]:
                chain = last[1]
            if d.group(1) != "warning":
                return (chain[0] if chain else (where, int(line.split(":")[1]))), line
            last = (where, chain)
        chain = []
    return None, ""


def kept_sets(directory):
    """{key: (PCH path, its build's header warnings)} of the PCHs a compile kept (Sharing.keep)."""
    sets = {}
    if not directory or not os.path.isdir(directory):
        return sets
    for name in os.listdir(directory):
        key, ext = os.path.splitext(name)
        if ext == ".pch" and os.path.exists(os.path.join(directory, key + ".json")):
            with open(os.path.join(directory, key + ".json")) as f:
                sets[key] = (os.path.join(directory, name), json.load(f).get("header_warnings", []))
    return sets


def canonical_program(b, lib, names):
    """The compiled instructions with map fds replaced by the map's rank (fd numbers depend on what the
    process had open, not on the compile), plus each map's definition, in that rank order."""
    import bpfsys
    raw = {name: b.dump_func(name) for name in names}
    fds = []
    for name in names:
        fds += [fd for fd in bpfsys.map_fds(raw[name]) if fd not in fds]
    rank = {fd: k for k, fd in enumerate(fds)}
    return {"insns": {name: bpfsys.patch_map_fds(raw[name], rank).hex() for name in names},
            "maps": [bpfsys.map_info(fd) for fd in fds]}


class Sharing:
    """The runner's side (compile mode, job["share_headers"]). bcc's cc1 line depends on the cflags, not
    on the program (loader.cc builds it from the kernel's flags, bcc's and the cflags): a stub program
    compiled with a case's cflags gives it (cc1_stub, about 0.1 s of CPU, where a first case compiled
    plain for it took 1-2 s). A case whose include set has no PCH yet gets one built first, when that
    line is known (else right after its own plain compile, for the next cases). With verify, each case
    compiled with a PCH is compiled again without it (in a work dir), and any difference in rewritten
    text, instructions or maps puts the unshared result in its place and says why."""

    def __init__(self, inp, options, cases, fork_child, wait_child):
        self.clang = options["clang"]
        self.verify = bool(options.get("verify"))
        self.work = options.get("workdir", "/tmp/shared-headers")
        self.fork_child, self.wait_child = fork_child, wait_child
        entries, self.entry_lines, self.full = [], {}, {}
        for case in cases:
            with open(os.path.join(inp, case["file"])) as f:
                text = f.read()
            self.full[case["id"]] = include_lines(text)
            entries.append((case["id"], self.full[case["id"]], case.get("cflags", [])))
            self.entry_lines[case["id"]] = include_entry_lines(text)
        self.plan = plan(entries)
        self.pch, self.failed, self.cc1, self.built, self.remaps = {}, {}, {}, {}, None
        self.stubbed = set()    # cflags whose cc1 line a stub compile was asked for (once each)
        self.warned = {}        # per include set: the warnings its PCH build printed (header_warnings)
        self.doomed = {}        # set_key of the lines up to a failed build's failing #include: its error
        self.broken = set()     # (cflags, #include line) a PCH build or a first case failed in
        self.probing = set()    # sets whose first case compiles plain before any build (after)
        self.chained = {}       # case id: (its chained PCH, the warnings that build printed), while it compiles
        self.chains = options.get("clang_major", 0) >= CHAIN_FROM_CLANG
        self.own_lines = {}     # set key: its lines (_lines)
        self.fails_at = {}      # set key: its entry (1-based) a build or first case failed in
        self.lending = {}       # failed set key: the key of its lines before that entry, whose PCH its cases take
        self.lent = {}          # that PCH's key: how many cases still take it
        self.borrowed = {}      # case id: the key of the PCH it takes, while it compiles
        self.left = {}          # cases still to compile per include set: its PCH goes with the last one
        for key, _ in self.plan.values():
            self.left[key] = self.left.get(key, 0) + 1
        # the cell's cases' compile keeps its PCHs for the oracle's and runtime checks' programs, whose
        # compiles take them as built (same cell, same cflags and include lines: the same key)
        self.keep = options.get("keep")
        kept = kept_sets(options.get("prebuilt"))
        self.prebuilt = set(kept) & set(self.left)
        for key in self.prebuilt:
            self.pch[key], self.warned[key] = kept[key]

    def order(self, cases):
        """The cases with each include set's one after another (otherwise in their order), so that only
        one set's PCH needs to be kept at a time (an untrusted compile's /tmp is capped)."""
        first = {}

        def rank(pair):
            n, case = pair
            return first.setdefault((self.plan.get(case["id"]) or ("#%d" % n,))[0], n), n
        return [case for _, case in sorted(enumerate(cases), key=rank)]

    def before(self, case):
        key = (self.plan.get(case["id"]) or ("",))[0]
        flags = json.dumps(case.get("cflags", []))
        built = {}
        if key and flags not in self.cc1 and flags not in self.stubbed:
            built["cc1_stub"] = self._stub_cc1(case.get("cflags", []))
        if key and key not in self.pch and key not in self.failed and flags in self.cc1 and \
                not self._doomed(key, case.get("cflags", [])):
            lines = self.plan[case["id"]][1]
            broken = [k for k, line in enumerate(lines, 1) if (flags, line) in self.broken]
            if key not in self.probing and broken:
                # a set with a line some build failed in (kernel headers that do not all parse here):
                # its first case compiles without the set's PCH first (on one of the lines before that
                # one), and if that fails in the set's headers, a build would fail there too and is
                # not tried (after)
                self.probing.add(key)
                _add(built, self._borrow(case, lines[:broken[0] - 1], 1)[1])
            else:
                built.update(self._build(key, case.get("cflags", []), self.cc1[flags]))
        if key in self.pch and self.chains:
            built.update(self._chain(case, key, flags))
        if key in self.failed and flags in self.cc1:
            _add(built, self._lend(case, key))
        if built:
            self.built[case["id"]] = built
        if case["id"] in self.chained:
            return dict(case, pch=self.chained[case["id"]][0], canon=self.verify)
        if case["id"] in self.borrowed:
            return dict(case, pch=self.pch[self.borrowed[case["id"]]], canon=self.verify)
        if key in self.pch:
            return dict(case, pch=self.pch[key], canon=self.verify)
        return dict(case, canon=self.verify and bool(key))

    def _chain(self, case, key, flags):
        """A case whose #include lines go past its set's (no other case starts with all of them) gets
        a chained PCH of the rest, built on the set's: clang parses those headers once, in the build,
        instead of three times in bcc's compile. A set line a build failed in is not tried again."""
        full, lines = self.full[case["id"]], self.plan[case["id"]][1]
        past = full[len(lines):]
        if not past or flags not in self.cc1 or any((flags, line) in self.broken for line in past):
            return {}
        if self.remaps is None:
            self.remaps = self._virtual_files()
        name = "chain-" + set_key(full, case.get("cflags", []))
        path, seconds, error, printed = build_pch(self.clang, self.cc1[flags], past, name, self.work,
                                                  self.remaps, base=self.pch[key], checked=full)
        os.remove(set_header(self.work, name))
        if error:
            k = entry_at(past, failing_include(printed, set_header(self.work, name)))
            if k:
                self.broken.add((flags, past[k - 1]))
            return {"chain_build": seconds, "chain_error": error}
        self.chained[case["id"]] = (path, header_warnings(printed), name)
        return {"chain_build": seconds, "chained": len(past)}

    def _lend(self, case, key):
        """A set whose headers fail to parse here, in its entry k (_build, _failed_in_headers, _doomed):
        its cases fail there as well, after parsing the entries before it. Those parse alike in every
        program of these cflags, so its cases compile on a PCH of them (the PCH of a set of those
        lines, or one built for them) and parse only the rest, the failing header included, whose
        errors clang prints as before."""
        if key not in self.lending:
            lines = self.plan[case["id"]][1][:max(self.fails_at.get(key, 0) - 1, 0)]
            self.lending[key], built = self._borrow(case, lines, self.left[key])
            return built
        if self.lending[key]:
            self.borrowed[case["id"]] = self.lending[key]
        return {}

    def _borrow(self, case, lines, count):
        """The case takes the PCH of `lines` (up to their last #include), built now if need be, and
        `count` cases in all will: (its key, or '' when there is none; the build's timings)."""
        while lines and not lines[-1].startswith("#include"):
            lines = lines[:-1]
        if not lines:
            return "", {}
        cflags = case.get("cflags", [])
        lender, built = set_key(lines, cflags), {}
        if lender not in self.pch and lender not in self.failed:
            built = self._build(lender, cflags, self.cc1[json.dumps(cflags)], lines)
        if lender not in self.pch:
            return "", built
        self.lent[lender] = self.lent.get(lender, 0) + count
        self.borrowed[case["id"]] = lender
        return lender, built

    def skip(self, case):
        """A case another shard compiles (runner.claim): it no longer needs its include set's PCH here."""
        key = (self.plan.get(case["id"]) or ("",))[0]
        if key:
            self.left[key] -= 1
            self._drop_when_done(key)
            self._give_back(self.lending.get(key))

    def _give_back(self, lender):
        if lender:
            self.lent[lender] -= 1
            self._drop_when_done(lender)

    def _drop_when_done(self, key):
        """The PCH goes with its set's last case (an untrusted compile's /tmp is capped), and with the
        last case of a failed set that takes it (_lend): into `keep` when asked (a set's only), else
        removed; one taken as built is the job's input and stays."""
        if not self.left.get(key) and not self.lent.get(key) and key in self.pch:
            path = self.pch.pop(key)
            if key in self.prebuilt:
                return
            if self.keep and key in self.left:
                os.makedirs(self.keep, exist_ok=True)
                shutil.move(path, os.path.join(self.keep, key + ".pch"))
                with open(os.path.join(self.keep, key + ".json"), "w") as f:
                    json.dump({"header_warnings": self.warned.get(key, [])}, f)
            else:
                os.remove(path)

    def after(self, case, case_out, arg, timeout):
        if case["id"] not in self.plan:
            return
        key = self.plan[case["id"]][0]
        self.left[key] -= 1
        note = {"used": bool(case.get("pch")), "key": key}
        if case.get("pch") and key in self.prebuilt:
            note["prebuilt"] = True     # built by the cell's cases' compile
        note.update(self.built.pop(case["id"], {}))
        chain, lender = self.chained.pop(case["id"], None), self.borrowed.pop(case["id"], None)
        if case.get("pch"):
            pchs = [case["pch"]] + ([self.pch[key]] if chain else [])
            if lender:
                warned = self._as_in_program(case, lender, self.warned.get(lender, []), None)
                note["prefix_pch_lines"] = len(self._lines(lender))
            else:
                warned = self._as_in_program(case, key, self.warned.get(key, []), chain)
            if warned:
                note["header_warnings"] = len(warned)
            failed = not _compiled(case_out)
            redo = failed and typo_correctable(case_out)
            if redo and not pch_may_correct(case_out, pchs):
                redo = False
                note["typo_local"] = True   # the PCH cannot change what a correction finds
            if failed:
                note["failed"] = True
            if self.verify or redo:
                note.update(self._unshared(case, case_out, arg, timeout, warned, keep=redo))
            if chain:
                os.remove(chain[0])
            self._give_back(lender)
        else:
            flags = json.dumps(case.get("cflags", []))
            if flags not in self.cc1:
                with open(os.path.join(case_out, "compile.log"), errors="replace") as f:
                    cc1 = cc1_args(f.read())
                if cc1 is not None:
                    self.cc1[flags] = cc1
        if key not in self.pch:     # compiled without its set's PCH: the set's probe, or a case its build waited for
            if key in self.probing and key not in self.failed:
                self._failed_in_headers(case, case_out, key)
            if key not in self.failed and self.left[key]:
                _add(note, self._build(key, case.get("cflags", []), self.cc1.get(json.dumps(case.get("cflags", [])))))
            if key in self.failed:
                note["error"] = self.failed[key]
        self._drop_when_done(key)
        _note(case_out, note)

    def _build(self, key, cflags, cc1, lines=None):
        if cc1 is None:         # no compile of these cflags printed one yet: a later case may
            return {}
        if self._doomed(key, cflags, lines):
            return {}
        lines, prefixes = self._prefixes(key, cflags, lines)
        os.makedirs(self.work, exist_ok=True)
        if self.remaps is None:
            self.remaps = self._virtual_files()
        path, seconds, error, printed = build_pch(self.clang, cc1, lines, key, self.work, self.remaps)
        if error:
            self.failed[key] = error
            k = entry_at(lines, failing_include(printed, set_header(self.work, key)))
            if k:
                self.doomed[prefixes[k - 1]] = error
                self.broken.add((json.dumps(cflags), lines[k - 1]))
                self.fails_at[key] = k
            return {"pch_build": seconds}
        self.pch[key] = path
        self.warned[key] = header_warnings(printed)
        return {"pch_build": seconds, "pch_bytes": os.path.getsize(path)}

    def _as_in_program(self, case, key, warned, chain):
        """The warnings the build of set `key` (and the case's chained build) printed, as the case's
        plain compile prints them: where a warning's header came in by one of the set's #include
        lines, clang names that line of the build's header there, of the program here."""
        lines, at = self._lines(key), self.entry_lines[case["id"]]
        warned = [in_program(b, key, lines, at) for b in warned]
        if chain:
            warned += [in_program(b, chain[2], self.full[case["id"]][len(lines):], at[len(lines):])
                       for b in chain[1]]
        return warned

    def _lines(self, key):
        """A set's lines: a planned set's, or those a failed set's cases take a PCH of (_lend)."""
        if key not in self.own_lines:
            self.own_lines[key] = next(v[1] for v in self.plan.values() if v[0] == key)
        return self.own_lines[key]

    def _prefixes(self, key, cflags, lines=None):
        """An include set's lines, and the key of each of its prefixes (1 line, 2 lines, ...)."""
        if lines is not None:
            self.own_lines[key] = lines
        lines = self._lines(key)
        return lines, [set_key(lines[:k], cflags) for k in range(1, len(lines) + 1)]

    def _doomed(self, key, cflags, lines=None):
        """True (and the set failed) when the set starts with the lines up to where another set's build
        failed, or its first case's compile did (_failed_in_headers)."""
        _, prefixes = self._prefixes(key, cflags, lines)
        doomed = [k for k, prefix in enumerate(prefixes, 1) if prefix in self.doomed]
        if doomed:
            self.failed[key] = "not built: its first %d #include lines are those of a set whose PCH build " \
                               "failed in the last of them: %s" % (doomed[0], self.doomed[prefixes[doomed[0] - 1]])
            self.fails_at[key] = doomed[0]
        return bool(doomed)

    def _failed_in_headers(self, case, case_out, key):
        """A set's first case, compiled plain, whose first error is inside one of the set's #include
        lines: the set's build would stop at the same error, so the set is not built (and a set that
        starts with the same lines up to that one neither). Only which compiles use a PCH changes."""
        try:
            with open(os.path.join(case_out, "compile.log"), errors="replace") as f:
                where, error = first_error(f.read())
        except OSError:
            return
        lines = self.plan[case["id"]][1]
        at = self.entry_lines[case["id"]][:len(lines)]
        if not where or where[0] != "/virtual/main.c" or where[1] not in at or error.startswith(where[0]):
            return
        k = at.index(where[1]) + 1
        self.failed[key] = "not built: its first case failed in its #include line %d: %s" % (k, error)
        self.fails_at[key] = k
        self.doomed[set_key(lines[:k], case.get("cflags", []))] = self.failed[key]
        self.broken.add((json.dumps(case.get("cflags", [])), lines[k - 1]))

    def _stub_cc1(self, cflags):
        """Learn bcc's cc1 line for `cflags` from a compile of STUB in a child of its own (as a case's,
        so a crash or hang there is the child's); returns its seconds. Without a line (bcc printed
        none) the first case of these cflags gives it, as before."""
        flags = json.dumps(cflags)
        self.stubbed.add(flags)
        stub = os.path.join(self.work, "cc1-stub-%d" % len(self.stubbed))
        os.makedirs(stub, exist_ok=True)
        with open(os.path.join(stub, "stub.c"), "w") as f:
            f.write(STUB)
        arg = os.path.join(stub, "case.json")
        with open(arg, "w") as f:
            json.dump({"id": "cc1-stub", "file": "stub.c", "prog_types": {}, "cflags": cflags}, f)
        t0 = time.monotonic()
        self.wait_child(self.fork_child("compile", arg, os.path.join(stub, "out")), STUB_TIMEOUT)
        seconds = time.monotonic() - t0
        try:
            with open(os.path.join(stub, "out", "compile.log"), errors="replace") as f:
                cc1 = cc1_args(f.read())
        except OSError:
            cc1 = None
        if cc1 is not None:
            self.cc1[flags] = cc1
        shutil.rmtree(stub, ignore_errors=True)
        return seconds

    def _virtual_files(self):
        """Read in a child: the runner may not have bcc loaded (runner.preload_bcc), and a failure here
        is then the child's."""
        listing = os.path.join(self.work, "virtual.json")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                import bcc
                with open(listing, "w") as f:
                    json.dump(write_virtual_files(bcc.lib, os.path.join(self.work, "virtual")), f)
                code = 0
            finally:
                os._exit(code)
        os.waitpid(pid, 0)
        with open(listing) as f:
            return [tuple(pair) for pair in json.load(f)]

    def _unshared(self, case, case_out, arg, timeout, warned, keep):
        """Compile the case again without the PCH and compare; its result replaces the shared one on any
        difference, and always with `keep`."""
        plain_out = os.path.join(self.work, "unshared", case["id"])
        os.makedirs(plain_out, exist_ok=True)
        plain_arg = arg + ".unshared.json"
        with open(plain_arg, "w") as f:
            json.dump(dict(case, pch=None), f)
        verdict = self.wait_child(self.fork_child("compile", plain_arg, plain_out), timeout)
        difference = differs(case_out, plain_out, warned)
        note = {"verified": not difference, "unshared_verdict": verdict}
        if difference or keep:
            note.update(used=False, shared_compile=_compile_seconds(case_out))
            shutil.rmtree(case_out)
            shutil.copytree(plain_out, case_out)
        else:
            note["unshared_compile"] = _compile_seconds(plain_out)
        if keep:
            note["redone"] = True       # typo_correctable: bcc's own answer is kept by rule
        if difference:
            note["differs"] = difference
        shutil.rmtree(plain_out)
        return note


DIAGNOSTIC = re.compile(r"^\S.*?:\d+:\d+: (warning|error|fatal error): ")
COUNT = re.compile(r"^\d+ (warning|error)s?( and \d+ errors?)? generated\.$")    # "3 warnings and 1 error generated."
# a location in clang's scratch space, with the numbered source line clang 19 prints after it
SCRATCH = re.compile(rb"<scratch space>:\d+:\d+(:[^\n]*\n(?: *\d+ \|)?)?")


def header_warnings(printed):
    """The warning blocks a PCH build printed ("In file included from" chain, the warning, its source
    line, caret and notes), each as its exact text. A compile with the PCH does not print them again:
    clang 11 (bcc 0.18) warns on macros that the kernel headers redefine, once per parse."""
    blocks, current, chained = [], [], False
    for line in printed.splitlines(True):
        starts = not chained and (line.startswith("In file included from ") or DIAGNOSTIC.match(line))
        if starts or COUNT.match(line.rstrip("\n")):
            blocks.append("".join(current))
            current = []
        if not COUNT.match(line.rstrip("\n")):
            current.append(line)
        chained = line.startswith("In file included from ")
    blocks.append("".join(current))
    return [b for b in blocks if any((DIAGNOSTIC.match(x) or ("", ""))[1] == "warning" for x in b.splitlines())]


def in_program(block, name, lines, at):
    """A warning block printed by the build of the header `name`.h of set `lines` (header_warnings) as a
    compile of the program prints it: "In file included from <that header>:N:" names the program's
    line of the entry at N (`at`: the program's line of each entry), /virtual/main.c being bcc's name
    for the program."""
    def to_program(m):
        k = entry_at(lines, int(m.group(1)))
        return "In file included from /virtual/main.c:%d:" % at[k - 1] if k and k <= len(at) else m.group(0)
    return re.sub(r"^In file included from (?:.*/)?%s\.h:(\d+):$" % re.escape(name), to_program, block, flags=re.M)


def differs(shared_out, plain_out, warned=()):
    """'' when both compiles agree byte for byte (rewritten text and diagnostics in compile.log, bar
    its cc1 line; instructions and maps; compiled or not), else what differs first. What is set aside
    in the logs first, and only that:
    - the warnings `warned` the PCH build printed once for every case (header_warnings), and clang's
      "N warnings generated." count, which counts them;
    - how a header's path is spelled in a diagnostic's notes: a PCH stores the absolute path
      (/usr/src/linux-headers-X/include/linux/minmax.h) where a plain parse prints it relative to bcc's
      working directory (include/linux/minmax.h), and `<scratch space>` (macro pastes) line numbers,
      in the location and in the numbered source line clang 19 prints under it, which count what was
      pasted since the parse began, the PCH's part included."""
    def facts(out, cwd):
        def read(name):
            try:
                with open(os.path.join(out, name), "rb") as f:
                    return f.read()
            except OSError:
                return None
        log = read("compile.log") or b""
        log = b"\n".join(line for line in log.split(b"\n") if not line.startswith(b"clang -cc1 ")
                         and not (warned and COUNT.match(line.decode(errors="replace"))))
        for block in warned:
            log = log.replace(block.encode(), b"")
        if cwd:
            log = log.replace(cwd.encode() + b"/", b"")
        log = SCRATCH.sub(lambda m: b"<scratch space>" + re.sub(rb"\n *\d+ \|", b"\n |", m.group(1) or b""), log)
        result = json.loads(read("result.json") or b"{}")
        return [("compile.log", log), ("compiled", result.get("compiled")),
                ("error", result.get("error")), ("instructions and maps", read("canonical.json"))]
    try:
        with open(os.path.join(plain_out, "compile.log"), errors="replace") as f:
            cwd = compile_dir(cc1_args(f.readline()) or [])
    except OSError:
        cwd = None
    for (what, a), (_, b) in zip(facts(shared_out, cwd), facts(plain_out, cwd)):
        if a != b:
            return what
    return ""


# What clang may answer with a typo correction ("did you mean 'state'?") and then recover from as if the
# suggestion had been written, so that bcc rewrites other text. A failing shared compile with one of
# these is compiled again without the PCH and that result kept, unless pch_may_correct shows that the
# PCH cannot change the correction. Other failures keep their shared result; bench_shared_headers.py
# compares them over the corpus.
TYPO = re.compile(r"(?:^|: )(?:error|warning): (?:use of undeclared (?:identifier|label)|no member named|"
                  r"unknown type name|call to undeclared|implicit declaration of function|"
                  r"field designator .* does not refer|.*did you mean)")
# A name looked up unqualified: clang's correction walks every identifier of the translation unit and
# then those of its external source, the PCH (Sema's typo-correction consumer), so it finds the same
# candidates with or without the PCH. A member's correction looks only among its record's members,
# which a record read from a PCH does not offer (bcc 0.18's runqlat: "no member named '__state'"
# shared, "...; did you mean 'state'?" plain).
UNQUALIFIED = re.compile(r"(?:^|: )(?:error|warning): (?:use of undeclared (?:identifier|label) '\w+'|"
                         r"unknown type name '\w+'|call to undeclared (?:library )?function '\w+'|"
                         r"implicit declaration of function '\w+')")
# A missing member of a named record: clang's correction looks only among that record's members
MEMBER = re.compile(r"error: no member named '\w+' in '(?:struct|union) (\w+)'$")


def typo_correctable(out):
    """True when the compile's diagnostics hold one that clang's typo correction answers."""
    try:
        with open(os.path.join(out, "compile.log"), errors="replace") as f:
            return any(TYPO.search(line) for line in f)
    except OSError:
        return True


def pch_may_correct(out, pchs):
    """False when no typo-correctable diagnostic can be answered otherwise without the PCH: each is a
    name looked up unqualified (UNQUALIFIED: the correction searches the PCH's identifiers too), or a
    missing member of a record whose name the PCH does not hold (bcc's tables, `dist_table_t` and the
    like, are declared by the program itself: then the record, and every candidate a correction could
    offer, was parsed in this compile, PCH or not). A PCH keeps each identifier it declares as plain
    bytes in its identifier table (only embedded file contents are compressed), so a name absent from
    its bytes is declared nowhere in it; a name found anywhere, even inside a longer one, counts as
    held. `pchs`: the PCH the compile took and, for a chained one, its base."""
    names = set()
    try:
        with open(os.path.join(out, "compile.log"), errors="replace") as f:
            for line in f:
                if not TYPO.search(line) or UNQUALIFIED.search(line):
                    continue
                member = MEMBER.search(line.rstrip("\n"))
                if not member:
                    return True
                names.add(member.group(1).encode())
        if not names:
            return False
        held = b""
        for pch in pchs:
            with open(pch, "rb") as f:
                held += f.read() + b"\0"
    except OSError:
        return True
    return any(name in held for name in names)


def _add(timings, more):
    """Add the timings of another step (a failed build and the build after it) to those a case has."""
    for name, value in more.items():
        timings[name] = timings.get(name, 0) + value if name in SHARING_TIMINGS else value


def _compiled(out):
    try:
        with open(os.path.join(out, "result.json")) as f:
            return bool(json.load(f).get("compiled"))
    except (OSError, ValueError):
        return False


def _compile_seconds(out):
    try:
        with open(os.path.join(out, "result.json")) as f:
            return json.load(f).get("timings", {}).get("compile")
    except (OSError, ValueError):
        return None


def _note(case_out, note):
    """Say in the case's result.json what sharing did for it; its timings get the work sharing added
    (the PCH build this case waited for; verify's unshared compile, or the shared compile that an
    unshared one replaced), so the floor counts it."""
    path = os.path.join(case_out, "result.json")
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, ValueError):
        return
    result["shared_headers"] = note
    timings = result.setdefault("timings", {})
    for name in SHARING_TIMINGS:
        if note.get(name):
            timings[name] = note[name]
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
