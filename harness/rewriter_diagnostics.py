"""The diagnostics bcc's own frontend (the rewriter, not clang) can emit, and whom each one blames.

Listed from bcc's src/cc/frontends/clang/b_frontend_action.cc (v0.31 to master; tp_frontend_action.cc
emits none) and checked against the strings of the packaged libbcc of every release in the matrix
(0.18, 0.26, 0.31, 0.37: the same list). docs/rewriter-diagnostics.md shows this table;
tests/test_classify.py checks that the two agree.

Blame:
- rewriter:    the rewriter refuses a program clang accepts (FP-REFUSED);
- program:     the program misuses bcc's C dialect (INVALID for a hand-written case; ENV for imported
               tools and triage reports, like any error in the original program);
- environment: this release or kernel cannot provide what the program asks for (ENV).
Warnings never decide a class.
"""

import re
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class RewriterDiagnostic:
    text: str           # the message as bcc prints it (%0 stands for bcc's argument)
    blame: str          # rewriter | program | environment | none (warnings)
    why: str

    @property
    def pattern(self) -> "re.Pattern":
        # clang prints a custom diagnostic's `%%` as `%` and its argument `%0` as text
        return re.compile("^" + re.escape(self.text.replace("%%", "%")).replace("%0", ".*") + "$")


# (message as bcc prints it, why) by whom it blames
_BY_BLAME = {
    "rewriter": (
        ("cannot have macro at the end of expresssion, workaround: put perentheses around macro \"(MARCO)\"",
         "an assignment to a packet header field (bcc/proto.h) that ends in a macro cannot be rewritten"),
        ("too many arguments, bcc only supports in-register parameters",
         "probe functions with more than 6 arguments after ctx are not rewritten"),
        ("cannot call non-static helper function",
         "bcc inlines only static functions; a call to another program function is refused"),
        ("internal error: MemberLoc is invalid while preparing probe rewrite",
         "the rewriter lost the location of a member it meant to rewrite"),
        ("internal error: opLoc is invalid while preparing probe rewrite",
         "the wording a bug report quotes; no packaged release 0.18-0.37 contains it"),
        ("cannot use map function inside a macro",
         "map method calls are rewritten by text; inside a macro there is none to edit"),
        ("cannot use builtin inside a macro",
         "bcc's builtins are rewritten by text; inside a macro there is none to edit"),
        ("cannot use \"packet\" header type inside a macro",
         "packet header accesses are rewritten by text; inside a macro there is none to edit"),
    ),
    "program": (
        ("arguments to BPF program definition must be named",
         "an unnamed parameter cannot be bound to a context register"),
        ("invalid bpf_table operation %0",
         "a map method bcc does not have"),
        ("get_stackid only available on stacktrace maps",
         "get_stackid called on a map of another kind"),
        ("invalid type for bpf_table, expect struct",
         "a malformed map declaration"),
        ("unknown type",
         "a map key or value type bcc cannot size"),
        ("invalid zero-sized leaf",
         "a map key or value of size zero"),
        ("histogram leaf type must be u64, got %0",
         "BPF_HISTOGRAM with another value type"),
        ("reference to undefined table",
         "an extern map no other module defines"),
        ("unsupported map type: %0",
         "a map section bcc does not know"),
    ),
    "environment": (
        ("bpf_table %0 failed to open",
         "the kernel refused to create the map"),
        ("get map info failed: %0",
         "a pinned map that is not there"),
        ("bpf_probe_read_user not found. Use latest kernel",
         "the kernel lacks bpf_probe_read_user and the addresses overlap"),
    ),
    "none": (
        ("all element of an array already exist; insert() will have no effect",
         "a warning"),
        ("unrecognized character",
         "a warning on a bpf_trace_printk format"),
        ("cannot use more than 3 conversion specifiers",
         "a warning on a bpf_trace_printk format"),
        ("only %0 conversion specifiers allowed",
         "a warning on a bpf_trace_printk format"),
        ("cannot use several %%s conversion specifiers",
         "a warning on a bpf_trace_printk format"),
    ),
}
DIAGNOSTICS = tuple(RewriterDiagnostic(text, blame, why) for blame, rows in _BY_BLAME.items()
                    for text, why in rows)
BLAMES = ("rewriter", "program", "environment", "none")
# The class each blame gets (program: for a hand-written case; report-only cases get ENV).
CLASS_OF_BLAME = {"rewriter": "FP-REFUSED", "program": "INVALID", "environment": "ENV", "none": ""}


def rewriter_diagnostic(message: str) -> Optional[RewriterDiagnostic]:
    """The rewriter diagnostic a compiler message is, or None when clang itself emitted it."""
    message = message.strip()
    for d in DIAGNOSTICS:
        if d.pattern.match(message):
            return d
    return None
