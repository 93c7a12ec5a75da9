"""The closed list of classes a case x cell can end in (lit's ResultCode, for the rewriter).

Every table that shows or counts classes (terminal styles, HTML colours, the FP/FN families of the
charts and trends, JUnit's skipped/failure/error) reads these attributes, so a new class cannot be
missing from any of them."""

from collections import OrderedDict
from enum import Enum
from typing import Dict, Tuple


class Outcome(Enum):
    #              label          is_failure rewriter_bug family  rich style   HTML colour  meaning
    PASS = ("PASS", False, False, "", "green", "#2e7d32",
            "rewritten exactly where expected; loads as expected")
    FP_EXTRA = ("FP-EXTRA", True, True, "FP", "red", "#ef6c00",
                "a rewrite no expectation names (an extra probe read)")
    FP_SYNTAX = ("FP-SYNTAX", True, True, "FP", "red", "#d84315",
                 "the rewritten program does not compile")
    FN_MISSING = ("FN-MISSING", True, True, "FN", "red", "#c62828",
                  "an expected rewrite is missing; the program still loads")
    FP_REFUSED = ("FP-REFUSED", True, True, "FP", "red", "#e65100",
                  "the rewriter refused the program with a diagnostic of its own")
    FN_VERIFIER = ("FN-VERIFIER", True, True, "FN", "red", "#b71c1c",
                   "the verifier rejects a load through a kernel pointer the rewriter missed")
    WRONG_READ = ("WRONG-READ", True, True, "WRONG-READ", "bold red", "#4a148c",
                  "loads, but a rewrite reads another address than the original expression")
    FN_RUNTIME = ("FN-RUNTIME", True, True, "FN", "bold red", "#880e4f",
                  "loads, but a value read at run time differs from the expected one")
    FP_RUNTIME = ("FP-RUNTIME", True, True, "FP", "bold red", "#bf360c",
                  "loads, but an unneeded rewrite makes a value read at run time wrong")
    REJECTED = ("REJECTED", False, False, "", "yellow", "#f57f17",
                "the kernel rejects the program, not for a missed rewrite (category said)")
    ENV = ("ENV", False, False, "", "yellow", "#f9a825",
           "this rewriter and kernel cannot run the program (headers, helper, prog type)")
    HARNESS = ("HARNESS", True, False, "", "magenta", "#8e24aa",
               "harness trouble: VM, timeout, bcc crash; says nothing of the rewriter")
    INVALID = ("INVALID", True, False, "", "magenta", "#6a1b9a",
               "the case file itself is wrong (names file and line)")
    XFAIL = ("XFAIL", False, False, "", "cyan", "#00838f", "fails as a gated XFAIL line says it does")
    XPASS = ("XPASS", True, False, "", "red", "#c62828", "passes although an XFAIL line says it fails here")
    UNSUPPORTED = ("UNSUPPORTED", False, False, "", "dim", "#9e9e9e", "a REQUIRES line excludes this cell")

    def __init__(self, label: str, is_failure: bool, rewriter_bug: bool, family: str, style: str,
                 colour: str, meaning: str):
        self.label, self.is_failure, self.rewriter_bug = label, is_failure, rewriter_bug
        self.family = family        # FP, FN or WRONG-READ for rewriter bugs: the charts' and trends' series
        self.style = style          # rich style in the terminal
        self.colour = colour        # background in the HTML heatmap
        self.meaning = meaning

    @property
    def skipped(self) -> bool:
        """Neither a pass nor a failure: JUnit's <skipped/> (ENV, XFAIL, UNSUPPORTED)."""
        return not self.is_failure and self is not Outcome.PASS

    @classmethod
    def from_label(cls, label: str) -> "Outcome":
        for o in cls:
            if o.label == label:
                return o
        raise ValueError(f"unknown outcome {label!r}")


def families() -> "OrderedDict[str, Tuple[Outcome, ...]]":
    """FP, FN, WRONG-READ in the enum's order, each with its classes."""
    out: Dict[str, Tuple[Outcome, ...]] = OrderedDict()
    for o in Outcome:
        if o.family:
            out[o.family] = out.get(o.family, ()) + (o,)
    return out


def family_colour(family: str) -> str:
    """A family's chart colour: that of its first class."""
    return families()[family][0].colour if family in families() else "#555"
