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


DIAGNOSTICS = (
    RewriterDiagnostic("cannot have macro at the end of expresssion, workaround: put perentheses around "
                       "macro \"(MARCO)\"", "rewriter",
                       "an assignment to a packet header field (bcc/proto.h) that ends in a macro cannot be rewritten"),
    RewriterDiagnostic("too many arguments, bcc only supports in-register parameters", "rewriter",
                       "probe functions with more than 6 arguments after ctx are not rewritten"),
    RewriterDiagnostic("cannot call non-static helper function", "rewriter",
                       "bcc inlines only static functions; a call to another program function is refused"),
    RewriterDiagnostic("internal error: MemberLoc is invalid while preparing probe rewrite", "rewriter",
                       "the rewriter lost the location of a member it meant to rewrite"),
    RewriterDiagnostic("internal error: opLoc is invalid while preparing probe rewrite", "rewriter",
                       "the wording a bug report quotes; no packaged release 0.18-0.37 contains it"),
    RewriterDiagnostic("cannot use map function inside a macro", "rewriter",
                       "map method calls are rewritten by text; inside a macro there is none to edit"),
    RewriterDiagnostic("cannot use builtin inside a macro", "rewriter",
                       "bcc's builtins are rewritten by text; inside a macro there is none to edit"),
    RewriterDiagnostic("cannot use \"packet\" header type inside a macro", "rewriter",
                       "packet header accesses are rewritten by text; inside a macro there is none to edit"),
    RewriterDiagnostic("arguments to BPF program definition must be named", "program",
                       "an unnamed parameter cannot be bound to a context register"),
    RewriterDiagnostic("invalid bpf_table operation %0", "program", "a map method bcc does not have"),
    RewriterDiagnostic("get_stackid only available on stacktrace maps", "program",
                       "get_stackid called on a map of another kind"),
    RewriterDiagnostic("invalid type for bpf_table, expect struct", "program", "a malformed map declaration"),
    RewriterDiagnostic("unknown type", "program", "a map key or value type bcc cannot size"),
    RewriterDiagnostic("invalid zero-sized leaf", "program", "a map key or value of size zero"),
    RewriterDiagnostic("histogram leaf type must be u64, got %0", "program", "BPF_HISTOGRAM with another value type"),
    RewriterDiagnostic("reference to undefined table", "program", "an extern map no other module defines"),
    RewriterDiagnostic("unsupported map type: %0", "program", "a map section bcc does not know"),
    RewriterDiagnostic("bpf_table %0 failed to open", "environment", "the kernel refused to create the map"),
    RewriterDiagnostic("get map info failed: %0", "environment", "a pinned map that is not there"),
    RewriterDiagnostic("bpf_probe_read_user not found. Use latest kernel", "environment",
                       "the kernel lacks bpf_probe_read_user and the addresses overlap"),
    RewriterDiagnostic("all element of an array already exist; insert() will have no effect", "none",
                       "a warning"),
    RewriterDiagnostic("unrecognized character", "none", "a warning on a bpf_trace_printk format"),
    RewriterDiagnostic("cannot use more than 3 conversion specifiers", "none",
                       "a warning on a bpf_trace_printk format"),
    RewriterDiagnostic("only %0 conversion specifiers allowed", "none", "a warning on a bpf_trace_printk format"),
    RewriterDiagnostic("cannot use several %%s conversion specifiers", "none",
                       "a warning on a bpf_trace_printk format"),
)
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
