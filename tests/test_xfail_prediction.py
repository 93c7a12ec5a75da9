"""An XFAIL line that names a class covers only that class: a failure of another class is a finding
(a new regression hiding behind an old known bug), reported as what it is with the prediction named."""

from dataclasses import replace

from harness.cases import Xfail
from harness.classify import classify
from harness.gates import parse_gate
from harness.outcome import Outcome

SOCK = "cases/seed/sock_through_u64.c"      # recorded: bcc 0.26 misses the rewrite, the verifier rejects


def xfail(text: str, predicts: str) -> Xfail:
    gate, reason = parse_gate(text)
    return Xfail(gate, reason, predicts)


def test_other_class_than_predicted_is_reported_as_itself(recorded):
    case, obs, versions = recorded(SOCK)
    r = classify(replace(case, xfails=(xfail("bcc<=0.37 reads the wrong field", "WRONG-READ"),)), obs, versions)
    assert r.outcome is Outcome.FN_VERIFIER and r.raw_outcome is Outcome.FN_VERIFIER
    assert r.message.startswith("verifier rejected")
    assert "not the WRONG-READ that XFAIL bcc<=0.37 predicts (reads the wrong field)" in r.message


def test_predicted_class_is_xfail(recorded):
    case, obs, versions = recorded(SOCK)
    r = classify(replace(case, xfails=(xfail("bcc<=0.37 lost pointer", "FN-VERIFIER"),)), obs, versions)
    assert r.outcome is Outcome.XFAIL and r.raw_outcome is Outcome.FN_VERIFIER
    assert r.message.startswith("FN-VERIFIER as expected by XFAIL bcc<=0.37 (lost pointer)")


def test_the_line_that_predicts_this_class_is_the_one_applied(recorded):
    case, obs, versions = recorded(SOCK)
    lines = (xfail("bcc<=0.37 reads the wrong field", "WRONG-READ"), xfail("bcc<=0.30 lost pointer", "FN-VERIFIER"))
    r = classify(replace(case, xfails=lines), obs, versions)
    assert r.outcome is Outcome.XFAIL and "XFAIL bcc<=0.30 (lost pointer)" in r.message


def test_a_line_naming_no_class_covers_every_rewriter_bug(recorded):
    case, obs, versions = recorded(SOCK)
    r = classify(replace(case, xfails=(xfail("* any failure", ""),)), obs, versions)
    assert r.outcome is Outcome.XFAIL
