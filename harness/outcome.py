"""The closed list of classes a case x cell can end in (lit's ResultCode, for the rewriter)."""

from enum import Enum


class Outcome(Enum):
    #            label           is_failure  rewriter_bug  meaning
    PASS = ("PASS", False, False, "rewritten exactly where expected; loads as expected")
    FP_EXTRA = ("FP-EXTRA", True, True, "a rewrite no expectation names (an extra probe read)")
    FP_SYNTAX = ("FP-SYNTAX", True, True, "the rewritten program does not compile")
    FN_MISSING = ("FN-MISSING", True, True, "an expected rewrite is missing; the program still loads")
    FP_REFUSED = ("FP-REFUSED", True, True, "the rewriter refused the program with a diagnostic of its own")
    FN_VERIFIER = ("FN-VERIFIER", True, True, "the verifier rejects a load through a kernel pointer the rewriter missed")
    WRONG_READ = ("WRONG-READ", True, True, "loads, but a rewrite reads another address than the original expression")
    FN_RUNTIME = ("FN-RUNTIME", True, True, "loads, but a value read at run time differs from the expected one")
    FP_RUNTIME = ("FP-RUNTIME", True, True, "loads, but an unneeded rewrite makes a value read at run time wrong")
    REJECTED = ("REJECTED", False, False, "the kernel rejects the program, not for a missed rewrite (category said)")
    ENV = ("ENV", False, False, "this rewriter and kernel cannot run the program (headers, helper, prog type)")
    HARNESS = ("HARNESS", True, False, "harness trouble: VM, timeout, bcc crash; says nothing of the rewriter")
    INVALID = ("INVALID", True, False, "the case file itself is wrong (names file and line)")
    XFAIL = ("XFAIL", False, False, "fails as a gated XFAIL line says it does")
    XPASS = ("XPASS", True, False, "passes although an XFAIL line says it fails here")
    UNSUPPORTED = ("UNSUPPORTED", False, False, "a REQUIRES line excludes this cell")

    def __init__(self, label: str, is_failure: bool, rewriter_bug: bool, meaning: str):
        self.label, self.is_failure, self.rewriter_bug, self.meaning = label, is_failure, rewriter_bug, meaning

    @classmethod
    def from_label(cls, label: str) -> "Outcome":
        for o in cls:
            if o.label == label:
                return o
        raise ValueError(f"unknown outcome {label!r}")
