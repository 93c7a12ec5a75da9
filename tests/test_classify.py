"""Classification of recorded guest runs (tests/record_fixtures.py re-records them).

The expected classes are written here by hand from what each case is and what bcc 0.26 did.
"""

from dataclasses import replace

import pytest

from harness.classify import Result, classify, unsupported
from harness.observation import Observation, read_observation
from harness.outcome import Outcome

EXPECTED = {
    "cases/seed/count_sched.c": Outcome.PASS,
    "cases/seed/sock_in_map.c": Outcome.PASS,
    "cases/seed/sock_through_u64.c": Outcome.XFAIL,
    "tests/fixtures/cases/env_missing_header.c": Outcome.ENV,
    "tests/fixtures/cases/fp_field_taint.c": Outcome.FP_EXTRA,
    "tests/fixtures/cases/fp_increment.c": Outcome.FP_SYNTAX,
    "tests/fixtures/cases/nested_chain.c": Outcome.PASS,
    "tests/fixtures/cases/subscript_member_array.c": Outcome.PASS,
}


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_recorded_class(recorded, path):
    case, obs, versions = recorded(path)
    assert classify(case, obs, versions).outcome is EXPECTED[path]


def test_xfail_keeps_the_verifier_rejection(recorded):
    case, obs, versions = recorded("cases/seed/sock_through_u64.c")
    r = classify(case, obs, versions)
    assert r.raw_outcome is Outcome.FN_VERIFIER
    assert r.verifier_category == "invalid-mem-access"
    assert r.log_line == "R1 invalid mem access 'scalar'"
    assert "sock_through_u64.c:22:12 sk->__sk_common.skc_family" in r.message
    assert "return sk->__sk_common.skc_family;" in r.message
    assert "R1 invalid mem access 'scalar'" in r.details


def test_without_the_gate_it_is_a_false_negative(recorded):
    case, obs, versions = recorded("cases/seed/sock_through_u64.c")
    r = classify(replace(case, xfails=()), obs, versions)
    assert r.outcome is Outcome.FN_VERIFIER and r.outcome.rewriter_bug


def test_fixed_release_is_xpass(recorded):
    case, obs, versions = recorded("cases/seed/count_sched.c")
    gated = replace(case, xfails=recorded("cases/seed/sock_through_u64.c")[0].xfails)
    assert classify(gated, obs, versions).outcome is Outcome.XPASS


def test_extra_site_is_named(recorded):
    case, obs, versions = recorded("tests/fixtures/cases/fp_field_taint.c")
    r = classify(case, obs, versions)
    assert r.extra == ((12, "*b.p"),)
    assert "fp_field_taint.c:12:19: *b.p" in r.message
    assert r.probe_reads == 2


def test_missing_site_when_it_still_loads(recorded):
    case, obs, versions = recorded("cases/seed/count_sched.c")
    from harness.cases import ExpectedSite
    extra_expectation = ExpectedSite(line=6, text="ctx->di", col=1, annotation_line=6)
    r = classify(replace(case, sites=case.sites + (extra_expectation,)), obs, versions)
    assert r.outcome is Outcome.FN_MISSING
    assert "ctx->di" in r.message


def test_syntax_error_points_at_the_rewrite(recorded):
    case, obs, versions = recorded("tests/fixtures/cases/fp_increment.c")
    r = classify(case, obs, versions)
    assert "fp_increment.c:6:5 prev->pid" in r.message
    assert "expression is not assignable" in r.message
    assert "bpf_probe_read" in r.details


def test_header_error_is_environment(recorded):
    case, obs, versions = recorded("tests/fixtures/cases/env_missing_header.c")
    r = classify(case, obs, versions)
    assert "no_such_header_in_any_kernel.h" in r.message
    assert not r.outcome.rewriter_bug


@pytest.mark.parametrize("verdict,words", [("timeout-900", "did not finish within 900s"),
                                           ("signal-11", "signal 11"), (None, "no status")])
def test_bcc_trouble_is_harness_not_rewriter(recorded, tmp_path, verdict, words):
    case, _, versions = recorded("cases/seed/count_sched.c")
    obs = read_observation(case.id, "cell", tmp_path, verdict)
    r = classify(case, obs, versions)
    assert r.outcome is Outcome.HARNESS and words in r.message


def test_requires_gate_makes_unsupported(recorded):
    case, _, versions = recorded("tests/fixtures/cases/nested_chain.c")
    from harness.gates import parse_gate
    gate, _ = parse_gate("kernel>=99")
    assert unsupported(replace(case, requires=(gate,)), "cell", versions).outcome is Outcome.UNSUPPORTED
    assert unsupported(case, "cell", versions) is None


def test_header_error_in_rewritten_pass_is_env_not_syntax():
    from harness.classify import _classify_raw
    from harness.cases import Case, LoadExpectation
    from harness.observation import Diagnostic
    from pathlib import Path
    case = Case("x", Path("x.c"), "int f(void *ctx) { return 0; }\n", "d", (), (), LoadExpectation(True))
    diag = Diagnostic("include/linux/bpf.h", 368, 10, "error",
                      "invalid application of 'sizeof' to an incomplete type 'struct bpf_wq'", 2)
    obs = Observation("x", "cell", "ok", compiled=False, diagnostics=(diag,), rewritten="int f;\n")
    r = _classify_raw(case, obs)
    assert r.outcome is Outcome.ENV and "include/linux/bpf.h:368:10" in r.message


def test_runtime_verdicts():
    from pathlib import Path
    from harness.cases import Case, LoadExpectation
    from harness.runtime_stage import judge
    case = Case("rt", Path("rt.c"), "", "d", (), (), LoadExpectation(True),
                expect_map=(("pkts", 0, "==", 3), ("pids", 0, "==", "$PID")))
    right = judge(case, {"values": {"pkts[0]": 3, "pids[0]": 77}, "pid": 77}, False)
    # what held, with the pid in its symbolic form: the same words on every run (fidelity compares them)
    assert right.outcome is Outcome.PASS and right.message == "runtime: pkts[0] = 3, pids[0] == $PID as expected"
    wrong = judge(case, {"values": {"pkts[0]": 2, "pids[0]": 77}, "pid": 77}, False)
    assert wrong.outcome is Outcome.FN_RUNTIME and "pkts[0] is 2, expected == 3" in wrong.message
    assert judge(case, {"values": {"pkts[0]": 2, "pids[0]": 77}, "pid": 77}, True).outcome is Outcome.FP_RUNTIME
    silent = judge(case, {"values": {"pkts[0]": None, "pids[0]": 0}}, False)
    assert silent.outcome is Outcome.HARNESS and "did not fire" in silent.message


def test_fidelity_compares_runtime_verdicts_and_wrong_read_offsets():
    from pathlib import Path
    from harness.cases import Case, LoadExpectation
    from harness.fidelity import compare
    case = Case("rt", Path("rt.c"), "", "d", (), (), LoadExpectation(True))
    obs = Observation("rt", "cell", "ok", compiled=True, rewritten="")
    agree = Result("rt", "cell", Outcome.PASS, "", oracle="agrees: 1 site(s) read the same value")
    wrong = Result("rt", "cell", Outcome.WRONG_READ, "reads 00, holds 61; bcc's address is +15 bytes off",
                   oracle="WRONG-READ at 1 site(s)")
    other_bytes = replace(wrong, message="reads 7f, holds 61; bcc's address is +15 bytes off")
    assert compare(case, obs, obs, wrong, other_bytes) == []       # bytes at a wrong address may vary
    diffs = compare(case, obs, obs, agree, wrong)
    assert {d.what for d in diffs} == {"class", "runtime checks"}
    runtime = next(d for d in diffs if d.what == "runtime checks")
    assert runtime.split == "WRONG-READ at 1 site(s) (+15 bytes off)"
