"""Whether a compile with a shared PCH is the one bcc makes without it (shared_headers.py): the two
compiles' outputs compared byte for byte with what a PCH legitimately changes set aside, the programs
whose failure a PCH could change (typo corrections), and the instructions in a comparable form.

Stdlib only (this runs with the rewriter root's python3).
"""

import json
import os
import re

from include_sets import entry_at
from pch_build import COUNT, cc1_args, compile_dir

# a location in one of clang's own buffers (scratch space, the predefines), with the numbered source
# line clang 19 prints after it
SYNTHETIC = re.compile(rb"<(scratch space|built-in)>:\d+:\d+(:[^\n]*\n(?: *\d+ \|)?)?")


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
    - the warnings `warned` the PCH build printed once for every case (header_warnings, as the
      program's compile prints them: in_program), and clang's "N warnings generated." count, which
      counts them;
    - how a header's path is spelled in a diagnostic's notes: a PCH stores the absolute path
      (/usr/src/linux-headers-X/include/linux/minmax.h) where a plain parse prints it relative to bcc's
      working directory (include/linux/minmax.h), and the line numbers of clang's own buffers, in the
      location and in the numbered source line clang 19 prints under it: `<scratch space>` (macro
      pastes) counts what was pasted since the parse began, the PCH's part included, and `<built-in>`
      (the predefines, where `__seg_gs` is defined) has a line more with -include-pch (bcc-0.18@linux-7.2:
      "<built-in>:310:33: note: expanded from here" shared, 309 plain)."""
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
        log = SYNTHETIC.sub(lambda m: b"<%s>" % m.group(1) + re.sub(rb"\n *\d+ \|", b"\n |", m.group(2) or b""), log)
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


def pch_may_correct(out, pch):
    """False when no typo-correctable diagnostic can be answered otherwise without the PCH: each is a
    name looked up unqualified (UNQUALIFIED: the correction searches the PCH's identifiers too), or a
    missing member of a record whose name the PCH does not hold (bcc's tables, `dist_table_t` and the
    like, are declared by the program itself: then the record, and every candidate a correction could
    offer, was parsed in this compile, PCH or not). A PCH keeps each identifier it declares as plain
    bytes in its identifier table (only embedded file contents are compressed), so a name absent from
    its bytes is declared nowhere in it; a name found anywhere, even inside a longer one, counts as
    held."""
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
        with open(pch, "rb") as f:
            held = f.read()
    except OSError:
        return True
    return any(name in held for name in names)
