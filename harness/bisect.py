"""Find the bcc commit where a case's behaviour changes: `git bisect` over a bcc checkout.

git bisect runs in a private clone that shares the checkout's objects (`--no-checkout`, so nothing is
checked out anywhere), with the terms `same` (behaves as the good end) and `changed`. Each step builds
the candidate from the user's tree (images/source.py: incremental, cached by commit), runs the case on
the chosen kernel, and compares its signature to the good end's. A step whose build or run is harness
trouble is skipped, as `git bisect skip` does. The steps are ordinary runs, recorded in the history.

The signature is the class, the rewrite sites (bcc's address expression at each) and the verifier's or
oracle's verdict. With `text` (`bisect --text`) it also holds a digest of bcc's whole rewritten text, so
a change that keeps every class and site (a new prologue, a different probe read of a syscall's
arguments) is found too.
"""

import difflib
import hashlib

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from .classify import Result
from .images.source import repository
from .outcome import Outcome


class BisectError(RuntimeError):
    pass


@dataclass(frozen=True)
class Signature:
    """What must stay equal for two commits to behave the same on a case."""
    outcome: str                           # the class before XFAIL
    sites: Tuple[Tuple[int, str, str], ...]   # (line, expression, bcc's address expression)
    detail: str                            # verifier category, or the oracle's verdict
    text: str = ""                         # with --text: digest of bcc's rewritten text ("none" if unrecorded)

    def describe(self) -> str:
        where = "; ".join(f"{line}:{expr} -> {addr}" for line, expr, addr in self.sites) or "no rewrite"
        return (f"{self.outcome} [{where}]" + (f" ({self.detail})" if self.detail else "")
                + (f" text {self.text}" if self.text else ""))


def text_digest(text: Optional[str]) -> str:
    """Twelve hex digits of the rewritten text's SHA-256, or "none" when bcc printed none."""
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text is not None else "none"


def signature(result: Result, text: Optional[Callable[[Result], Optional[str]]] = None) -> Signature:
    return Signature((result.raw_outcome or result.outcome).label,
                     tuple(sorted((s.line, s.text, s.address) for s in result.actual_sites)),
                     result.verifier_category or (result.oracle.split(":")[0] if result.oracle else ""),
                     text_digest(text(result)) if text else "")


def text_diff(before: Optional[str], after: Optional[str], most: int = 24) -> List[str]:
    """The first lines of a unified diff of two rewritten texts (what `bisect --text` prints)."""
    if before is None or after is None:
        return [] if before == after else [f"rewritten text: {'none' if before is None else 'some'} -> "
                                           f"{'none' if after is None else 'some'}"]
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after", lineterm="", n=1))
    return lines[:most] + ([f"... {len(lines) - most} more diff line(s)"] if len(lines) > most else [])


@dataclass(frozen=True)
class Step:
    commit: str
    subject: str
    term: str              # "same" | "changed" | "skip"
    signature: Signature
    message: str


@dataclass(frozen=True)
class BisectOutcome:
    good: Step
    bad: Step
    steps: Tuple[Step, ...]
    first: Optional[Tuple[str, str]]    # (commit, subject) where the behaviour first changes
    note: str = ""


def _git(repo: str, *args: str) -> str:
    proc = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BisectError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def bisect(tree: str, good: str, bad: str, evaluate: Callable[[str], Result],
           say: Callable[[str], None] = lambda _: None,
           text: Optional[Callable[[Result], Optional[str]]] = None) -> BisectOutcome:
    """`evaluate(commit)` runs the case on that commit's build and returns its result; `text(result)`,
    when given, is bcc's rewritten text for it, and then a change of that text is a change too."""
    repo = repository(tree)
    ends = []
    for ref in (good, bad):
        commit = _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
        result = evaluate(commit)
        if result.outcome is Outcome.HARNESS:
            raise BisectError(f"the {'good' if ref == good else 'bad'} end {ref} cannot be judged: {result.message}")
        ends.append(Step(commit, _git(repo, "log", "-1", "--format=%s", commit), "same" if ref == good else "changed",
                         signature(result, text), result.message))
        say(f"{ref} ({commit[:12]}): {ends[-1].signature.describe()}")
    good_step, bad_step = ends
    if good_step.signature == bad_step.signature:
        return BisectOutcome(good_step, bad_step, (), None,
                             f"no behaviour change between {good} and {bad}: both {good_step.signature.describe()}")
    steps: List[Step] = []
    with tempfile.TemporaryDirectory(prefix="harness-bisect-") as tmp:
        clone = str(Path(tmp) / "bcc")
        subprocess.run(["git", "clone", "-q", "--no-checkout", "--shared", repo, clone], check=True,
                       capture_output=True)
        out = _git(clone, "bisect", "start", "--no-checkout", "--term-old=same", "--term-new=changed",
                   bad_step.commit, good_step.commit)
        while True:
            found = re.search(r"^([0-9a-f]{40}) is the first changed commit", out, re.M)
            if found:
                sha = found.group(1)
                return BisectOutcome(good_step, bad_step, tuple(steps),
                                     (sha, _git(repo, "log", "-1", "--format=%s", sha)))
            if "only skipped commits left" in out or "There are only 'skip'ped commits left" in out:
                return BisectOutcome(good_step, bad_step, tuple(steps), None, out.strip().splitlines()[0])
            commit = _git(clone, "rev-parse", "BISECT_HEAD")
            result = evaluate(commit)
            sig = signature(result, text)
            term = ("skip" if result.outcome is Outcome.HARNESS
                    else "same" if sig == good_step.signature else "changed")
            steps.append(Step(commit, _git(repo, "log", "-1", "--format=%s", commit), term, sig, result.message))
            say(f"step {len(steps)}: {commit[:12]} {term}: {sig.describe()}")
            out = _git(clone, "bisect", term, commit)
