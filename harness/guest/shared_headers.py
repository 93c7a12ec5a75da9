"""Shared kernel headers in split mode's compile: one clang precompiled header (PCH) per include set.

bcc parses the kernel headers three times per program (its tracepoint pass, the rewrite pass and the
final compile). Cases of one cell that start with the same #include lines and have the same cflags
share a PCH of the longest such prefix, built once by a clang of exactly the LLVM libbcc links, with
the cc1 options bcc itself printed (DEBUG_PREPROCESSOR) for the first case of those cflags. The case
is then compiled by bcc as before, with `-include-pch` added to its cflags.

The include sets and the plan are include_sets.py's, a PCH's build pch_build.py's, the fidelity
check pch_fidelity.py's; this module decides, case by case, which PCH a compile takes.

Stdlib only (this runs with the rewriter root's python3).
"""

import json
import os
import shutil
import time

from include_sets import entry_at, include_entry_lines, include_lines, plan, set_key
from include_weight import IncludeWeight
from pch_build import (build_pch, cc1_args, failing_include, first_error, header_warnings, kept_sets,
                       set_header, write_virtual_files)
from pch_fidelity import differs, in_program, pch_may_correct, typo_correctable

# compiled with a case's cflags only for bcc's cc1 line (Sharing._stub_cc1)
STUB = "int harness_cc1_stub(void *ctx) { return 0; }\n"
STUB_TIMEOUT = 300
# the work sharing adds to a case's timings (_note)
SHARING_TIMINGS = ("cc1_stub", "pch_build", "own_pch_build", "include_scan", "unshared_compile", "shared_compile")


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
        entries, self.entry_lines, self.own = [], {}, {}
        for case in cases:
            with open(os.path.join(inp, case["file"])) as f:
                text = f.read()
            entries.append((case["id"], include_lines(text), case.get("cflags", [])))
            self.entry_lines[case["id"]] = include_entry_lines(text)
        self.plan = plan(entries)
        for cid, lines, cflags in entries:      # cases whose lines go past their set's (_own_set)
            if cid in self.plan and len(lines) > len(self.plan[cid][1]) and set_key(lines, cflags):
                self.own[cid] = (set_key(lines, cflags), lines)
        self.weights = {}       # per cflags: the IncludeWeight of its cc1 line
        self.failing = {}       # per cflags: the headers a build's or a compile's first error was in
        self.pch, self.failed, self.cc1, self.built, self.remaps = {}, {}, {}, {}, None
        self.stubbed = set()    # cflags whose cc1 line a stub compile was asked for (once each)
        self.warned = {}        # per include set: the warnings its PCH build printed (header_warnings)
        self.doomed = {}        # set_key of the lines up to a failed build's failing #include: its error
        self.broken = set()     # (cflags, #include line) a PCH build or a first case failed in
        self.probing = set()    # sets whose first case compiles plain before any build (after)
        self.left = {}          # cases still to compile per include set: its PCH goes with the last one
        for key, _ in self.plan.values():
            self.left[key] = self.left.get(key, 0) + 1
        # the cell's cases' compile keeps its PCHs for the oracle's and runtime checks' programs, whose
        # compiles take them as built (same cell, same cflags and include lines: the same key)
        self.keep = options.get("keep")
        kept = kept_sets(options.get("prebuilt"))
        self.prebuilt = set(kept) & (set(self.left) | {key for key, _ in self.own.values()})
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
        if key and flags in self.cc1 and case["id"] in self.own:
            key = self._own_set(case, key, flags, built)
        if key and key not in self.pch and key not in self.failed and flags in self.cc1 and \
                not self._doomed(key, case.get("cflags", [])):
            lines = self.plan[case["id"]][1]
            if key not in self.probing and any((flags, line) in self.broken for line in lines):
                # a set with a line some build failed in (kernel headers that do not all parse here):
                # its first case compiles plain first, and if that fails in the set's headers, a build
                # would fail there too and is not tried (after)
                self.probing.add(key)
            else:
                built.update(self._build(key, case.get("cflags", []), self.cc1[flags]))
        if built:
            self.built[case["id"]] = built
        if key in self.pch:
            return dict(case, pch=self.pch[key], canon=self.verify)
        return dict(case, canon=self.verify and bool(key))

    def skip(self, case):
        """A case another shard compiles (runner.claim): it no longer needs its include set's PCH here."""
        key = (self.plan.get(case["id"]) or ("",))[0]
        if key:
            self.left[key] -= 1
            self._drop_when_done(key)

    def _drop_when_done(self, key):
        """The PCH goes with its set's last case (an untrusted compile's /tmp is capped): into `keep`
        when asked, else removed; one taken as built is the job's input and stays."""
        if not self.left[key] and key in self.pch:
            path = self.pch.pop(key)
            if key in self.prebuilt:
                return
            if self.keep:
                os.makedirs(self.keep, exist_ok=True)
                shutil.move(path, os.path.join(self.keep, key + ".pch"))
                with open(os.path.join(self.keep, key + ".json"), "w") as f:
                    json.dump({"header_warnings": self.warned.get(key, [])}, f)
            else:
                os.remove(path)

    def after(self, case, case_out, arg, timeout):
        if case["id"] not in self.plan:
            return
        compiled = _compiled(case_out)
        failure = (None, "") if compiled else _first_error(case_out)
        if failure[1]:      # where kernel headers do not parse: which ones (_own_set)
            self._failing_header(json.dumps(case.get("cflags", [])), failure[1])
        key = self.plan[case["id"]][0]
        self.left[key] -= 1
        note = {"used": bool(case.get("pch")), "key": key}
        if case.get("pch") and key in self.prebuilt:
            note["prebuilt"] = True     # built by the cell's cases' compile
        note.update(self.built.pop(case["id"], {}))
        if case.get("pch"):
            warned = self._as_in_program(case, key)
            if warned:
                note["header_warnings"] = len(warned)
            failed = not compiled
            redo = failed and typo_correctable(case_out)
            if redo and not pch_may_correct(case_out, case["pch"]):
                redo = False
                note["typo_local"] = True   # the PCH cannot change what a correction finds
            if failed:
                note["failed"] = True
            if self.verify or redo:
                note.update(self._unshared(case, case_out, arg, timeout, warned, keep=redo))
        else:
            flags = json.dumps(case.get("cflags", []))
            if flags not in self.cc1:
                with open(os.path.join(case_out, "compile.log"), errors="replace") as f:
                    cc1 = cc1_args(f.read())
                if cc1 is not None:
                    self.cc1[flags] = cc1
            if key in self.probing and key not in self.pch and key not in self.failed:
                self._failed_in_headers(case, failure, key)
            if key not in self.pch and key not in self.failed and self.left[key]:
                note.update(self._build(key, case.get("cflags", []), self.cc1.get(flags)))
            if key in self.failed:
                note["error"] = self.failed[key]
        self._drop_when_done(key)
        _note(case_out, note)

    def _own_set(self, case, key, flags, built):
        """A case whose #include lines go past its set's gets a PCH of all its lines, a set of its own, when
        the headers its other lines add weigh at least as much as the set's (include_weight.py): bcc
        would parse them in each of its three passes, the build parses them once (and the set's again).
        Taken as built when the cell's cases' compile kept it. Returns the key the case takes."""
        cid, cflags, lines = case["id"], case.get("cflags", []), self.plan[case["id"]][1]
        own_key, own = self.own.pop(cid)
        if own_key not in self.pch:
            if own_key in self.failed or any((flags, line) in self.broken for line in own):
                return key
            t0 = time.monotonic()
            weight = self._weight(flags)
            shared, past = weight.split(lines, own)
            failing = sorted(weight.reach(own) & self.failing.get(flags, set()))
            built["include_scan"] = time.monotonic() - t0
            built["own_set"] = {"set_bytes": shared, "past_bytes": past}
            if failing:         # its build would fail there (kernel headers that do not parse here)
                built["own_set"]["fails_in"] = failing[0]
            if past < shared or failing:
                return key
        self.plan[cid] = (own_key, own)
        self.left[own_key] = self.left.get(own_key, 0) + 1
        if own_key not in self.pch:
            made = self._build(own_key, cflags, self.cc1[flags])
            if own_key not in self.pch:     # its build failed: the set's PCH, as before
                built["own_pch_build"] = made.get("pch_build", 0.0)
                self.plan[cid] = (key, lines)
                self.left[own_key] -= 1
                return key
            built.update(made)
        built.setdefault("own_set", {})["used"] = True
        self.left[key] -= 1
        self._drop_when_done(key)
        return own_key

    def _build(self, key, cflags, cc1):
        if cc1 is None:         # no compile of these cflags printed one yet: a later case may
            return {}
        if self._doomed(key, cflags):
            return {}
        lines, prefixes = self._prefixes(key, cflags)
        os.makedirs(self.work, exist_ok=True)
        if self.remaps is None:
            self.remaps = self._virtual_files()
        path, seconds, error, printed = build_pch(self.clang, cc1, lines, key, self.work, self.remaps)
        if error:
            self.failed[key] = error
            self._failing_header(json.dumps(cflags), first_error(printed)[1])
            k = entry_at(lines, failing_include(printed, set_header(self.work, key)))
            if k:
                self.doomed[prefixes[k - 1]] = error
                self.broken.add((json.dumps(cflags), lines[k - 1]))
            return {"pch_build": seconds}
        self.pch[key] = path
        self.warned[key] = header_warnings(printed)
        return {"pch_build": seconds, "pch_bytes": os.path.getsize(path)}

    def _weight(self, flags):
        """The include weigher for these cflags (bcc's cc1 line known), made once per cell."""
        if flags not in self.weights:
            self.weights[flags] = IncludeWeight(self.cc1[flags])
        return self.weights[flags]

    def _failing_header(self, flags, error):
        """Note the kernel header a failed build's or compile's first error (its line) is in: a case's
        own set reaching it would fail to build (_own_set)."""
        name = error.split(":", 1)[0]
        if flags in self.cc1 and name and not name.startswith(("/virtual/", "<")):
            weight = self._weight(flags)
            self.failing.setdefault(flags, set()).add(weight.header(name))

    def _as_in_program(self, case, key):
        """The warnings the set's build printed, as the case's plain compile prints them: where a
        warning's header came in by one of the set's #include lines, clang names that line of the
        build's header there, of the program here."""
        lines, at = self.plan[case["id"]][1], self.entry_lines[case["id"]]
        return [in_program(block, key, lines, at) for block in self.warned.get(key, [])]

    def _prefixes(self, key, cflags):
        """An include set's lines, and the key of each of its prefixes (1 line, 2 lines, ...)."""
        lines = [v[1] for v in self.plan.values() if v[0] == key][0]
        return lines, [set_key(lines[:k], cflags) for k in range(1, len(lines) + 1)]

    def _doomed(self, key, cflags):
        """True (and the set failed) when the set starts with the lines up to where another set's build
        failed, or its first case's compile did (_failed_in_headers)."""
        _, prefixes = self._prefixes(key, cflags)
        doomed = [k for k, prefix in enumerate(prefixes, 1) if prefix in self.doomed]
        if doomed:
            self.failed[key] = "not built: its first %d #include lines are those of a set whose PCH build " \
                               "failed in the last of them: %s" % (doomed[0], self.doomed[prefixes[doomed[0] - 1]])
        return bool(doomed)

    def _failed_in_headers(self, case, failure, key):
        """A set's first case, compiled plain, whose first error is inside one of the set's #include
        lines: the set's build would stop at the same error, so the set is not built (and a set that
        starts with the same lines up to that one neither). Only which compiles use a PCH changes.
        `failure`: the case's first error (_first_error)."""
        where, error = failure
        lines = self.plan[case["id"]][1]
        at = self.entry_lines[case["id"]][:len(lines)]
        if not where or where[0] != "/virtual/main.c" or where[1] not in at or error.startswith(where[0]):
            return
        k = at.index(where[1]) + 1
        self.failed[key] = "not built: its first case failed in its #include line %d: %s" % (k, error)
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


def _compiled(out):
    try:
        with open(os.path.join(out, "result.json")) as f:
            return bool(json.load(f).get("compiled"))
    except (OSError, ValueError):
        return False


def _first_error(out):
    """first_error of a compile's log, (None, "") without one."""
    try:
        with open(os.path.join(out, "compile.log"), errors="replace") as f:
            return first_error(f.read())
    except OSError:
        return None, ""


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
