"""compare: verdicts from the classes before XFAIL, site evidence, exit status, HTML and Markdown."""

from dataclasses import replace

from harness.classify import Result
from harness.compare import Verdict, compare, exit_status, verdict
from harness.outcome import Outcome
from harness.report.compare_html import render_comparison, render_markdown
from harness.sites import Site


def r(case, cell, outcome, raw=None, address=""):
    sites = (Site("t->comm[1]", 8, 14, 8, 24, "bpf_probe_read", "subscript", address, 30),) if address else ()
    return Result(case, cell, outcome, f"{outcome.label} here", raw_outcome=raw, actual_sites=sites)


def test_verdicts_read_the_class_before_xfail():
    wrong = r("c", "a@k", Outcome.XFAIL, raw=Outcome.WRONG_READ)
    assert verdict(wrong, r("c", "b@k", Outcome.PASS, raw=Outcome.PASS)) is Verdict.FIXED
    assert verdict(r("c", "a@k", Outcome.PASS, raw=Outcome.PASS), r("c", "b@k", Outcome.FP_EXTRA)) is Verdict.REGRESSED
    assert verdict(r("c", "a@k", Outcome.FN_MISSING), r("c", "b@k", Outcome.FP_EXTRA)) is Verdict.CHANGED
    assert verdict(wrong, r("c", "b@k", Outcome.XFAIL, raw=Outcome.WRONG_READ)) is Verdict.UNCHANGED
    assert verdict(r("c", "a@k", Outcome.HARNESS), r("c", "b@k", Outcome.PASS)) is Verdict.UNRESOLVED
    assert verdict(r("c", "a@k", Outcome.PASS), r("c", "b@k", Outcome.ENV)) is Verdict.REGRESSED


def test_pairs_by_case_and_kernel_with_the_rewrite_before_and_after():
    before = [r("oracle/comm_subscript", "bcc-src-0.31@linux-6.12", Outcome.XFAIL, Outcome.WRONG_READ,
                "(&t->comm) + (1)"),
              r("seed/count_sched", "bcc-src-0.31@linux-6.12", Outcome.PASS, Outcome.PASS)]
    after = [r("oracle/comm_subscript", "bcc-src-0.31+fix@linux-6.12", Outcome.PASS, Outcome.PASS,
               "(void *)(((typeof(char) *)&t->comm) + (1))"),
             r("seed/count_sched", "bcc-src-0.31+fix@linux-6.12", Outcome.PASS, Outcome.PASS)]
    found = compare(before, after, lambda cell: cell.partition("@")[2])
    assert [(c.case_id, c.kernel, c.verdict) for c in found] == [
        ("oracle/comm_subscript", "linux-6.12", Verdict.FIXED), ("seed/count_sched", "linux-6.12", Verdict.UNCHANGED)]
    site = found[0].sites[0]
    assert (site.before, site.after) == ("(&t->comm) + (1)", "(void *)(((typeof(char) *)&t->comm) + (1))")
    assert exit_status(found) == 0
    html = render_comparison(found, "bcc-src-0.31", "bcc-src-0.31+fix", ["linux-6.12"])
    assert "fixed" in html and "(&amp;t-&gt;comm) + (1)" in html and "seed/count_sched" not in html
    md = render_markdown(found, "bcc-src-0.31", "bcc-src-0.31+fix")
    assert "| oracle/comm_subscript | linux-6.12 | fixed | XFAIL (WRONG-READ) | PASS |" in md
    regressed = [replace(found[1], verdict=Verdict.REGRESSED)]
    assert exit_status(found + regressed) == 1
