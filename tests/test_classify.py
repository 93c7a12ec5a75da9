"""Classification of recorded guest runs (tests/record_fixtures.py re-records them).

The expected classes are written here by hand from what each case is and what bcc 0.26 did.
"""

import json
import re
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
    # the rewriter refusing the program (docs/rewriter-diagnostics.md)
    "tests/fixtures/cases/refused_macro_end.c": Outcome.FP_REFUSED,
    "tests/fixtures/cases/refused_too_many_args.c": Outcome.FP_REFUSED,
    "tests/fixtures/cases/refused_nonstatic_helper.c": Outcome.FP_REFUSED,
    "tests/fixtures/cases/refused_map_in_macro.c": Outcome.FP_REFUSED,
    "tests/fixtures/cases/refused_builtin_in_macro.c": Outcome.FP_REFUSED,
    # the program's own fault: clang's error, and bcc's frontend's
    "tests/fixtures/cases/program_bad_table_op.c": Outcome.INVALID,
    "tests/fixtures/cases/program_stackid_on_hash.c": Outcome.INVALID,
    # rejected by the verifier, and whom it blames
    "tests/fixtures/cases/rejected_wrong_prog_type.c": Outcome.REJECTED,
    "tests/fixtures/cases/fn_laundered_local.c": Outcome.FN_VERIFIER,
    "tests/fixtures/cases/inferred_socket_filter.c": Outcome.PASS,
    "tests/fixtures/cases/load_kfunc_probe.c": Outcome.PASS,
    "tests/fixtures/cases/load_lsm_probe.c": Outcome.PASS,
    "tests/fixtures/cases/load_sockopt_and_sock_ops.c": Outcome.PASS,
}
LOADED_AS = {"load_kfunc_probe.c": {"fentry", "fexit"}, "load_lsm_probe.c": {"lsm"},
             "load_sockopt_and_sock_ops.c": {"cgroup_sockopt", "sock_ops"},
             "inferred_socket_filter.c": {"sched_cls"}}
REFUSALS = {"refused_macro_end.c": (11, "cannot have macro at the end of expresssion"),
            "refused_too_many_args.c": (3, "too many arguments, bcc only supports in-register parameters"),
            "refused_nonstatic_helper.c": (10, "cannot call non-static helper function"),
            "refused_map_in_macro.c": (9, "cannot use map function inside a macro"),
            "refused_builtin_in_macro.c": (7, "cannot use builtin inside a macro")}


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


def test_a_kill_by_the_memory_cap_names_the_cap_not_a_line_of_the_rewritten_text(recorded, tmp_path):
    """bcc killed (signal 9) by the compile sandbox's OOM killer while printing its rewritten text: the
    message names the cap note_limits left, not the `#error` line of the half-printed text."""
    from harness.observation import REWRITTEN_START
    case, _, versions = recorded("cases/seed/count_sched.c")
    (tmp_path / "compile.log").write_text(f"clang -cc1 ...\n{REWRITTEN_START}\n"
                                          "#error BPF_LICENSE cannot be specified through cflags\n#endif\n")
    (tmp_path / "result.json").write_text(json.dumps({"compiled": False, "error": "no result",
                                                      "limits": "the host compile reached its cgroup's cap on memory (512 MiB)"}))
    r = classify(case, read_observation(case.id, "cell", tmp_path, "signal-9"), versions)
    assert r.outcome is Outcome.HARNESS and "signal 9" in r.message and "cap on memory" in r.message, r.message
    assert "BPF_LICENSE" not in r.message


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
    # a kernel without the case's attach point is the environment's, never harness trouble
    failed = {"error": "attach: OSError: [Errno 2] perf_event_open: No such file or directory", "values": {}}
    assert judge(case, failed, False).outcome is Outcome.HARNESS
    missing = judge(case, dict(failed, missing="kprobe tcp_sendpage"), False)
    assert missing.outcome is Outcome.ENV and missing.message == "runtime check: this kernel has no kprobe tcp_sendpage"


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


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_rewriter_refusal_names_the_case_line_and_the_diagnostic(recorded, name):
    case, obs, versions = recorded(f"tests/fixtures/cases/{name}")
    r = classify(case, obs, versions)
    line, words = REFUSALS[name]
    assert r.outcome is Outcome.FP_REFUSED and r.outcome.rewriter_bug
    assert f"{name}:{line}:" in r.message and words in r.message


def test_program_fault_is_invalid_for_a_hand_written_case_and_env_when_imported(recorded):
    case, obs, versions = recorded("tests/fixtures/cases/program_stackid_on_hash.c")
    r = classify(case, obs, versions)
    assert r.outcome is Outcome.INVALID and "program_stackid_on_hash.c:6:" in r.message
    assert classify(replace(case, report_only=True), obs, versions).outcome is Outcome.ENV
    case, obs, versions = recorded("tests/fixtures/cases/program_bad_table_op.c")
    r = classify(case, obs, versions)
    assert r.outcome is Outcome.INVALID and "program_bad_table_op.c:7:" in r.message and "frobnicate" in r.message


def test_wrong_program_type_is_rejected_not_a_false_negative(recorded):
    case, obs, versions = recorded("tests/fixtures/cases/rejected_wrong_prog_type.c")
    r = classify(case, obs, versions)
    assert r.outcome is Outcome.REJECTED and not r.outcome.rewriter_bug
    assert "wrong-prog-type" in r.message and "BPF_LD_[ABS|IND]" in r.message
    hand_written = classify(replace(case, report_only=False), obs, versions)
    assert hand_written.outcome is Outcome.INVALID and "wrong-prog-type" in hand_written.message


def test_fn_verifier_names_the_expression_from_btf_line_info(recorded):
    case, obs, versions = recorded("tests/fixtures/cases/fn_laundered_local.c")
    assert case.report_only and not case.sites
    r = classify(case, obs, versions)
    assert r.outcome is Outcome.FN_VERIFIER
    assert "fn_laundered_local.c:14:14 q->second" in r.message and "BTF line info" in r.message


def test_fn_verifier_names_the_expression_from_bcc_disassembly_in_split_mode(recorded):
    """Split mode loads without BTF: the log has no source lines; bcc's DEBUG_SOURCE dump maps the
    instruction to its line."""
    case, obs, versions = recorded("cases/seed/sock_through_u64.c", "bcc-0.26@linux-6.1-split")
    rejected = next(f for f in obs.functions if not f.loaded)
    assert not [ln for ln in rejected.verifier_log.splitlines() if ln.startswith("; ")]
    assert "Disassembly of function" in obs.compile_log
    r = classify(replace(case, sites=(), report_only=True, xfails=()), obs, versions)
    assert r.outcome is Outcome.FN_VERIFIER
    assert "sock_through_u64.c:22:12 sk->__sk_common.skc_family" in r.message
    assert "disassembly" in r.message


@pytest.mark.parametrize("cell", ["bcc-0.26@linux-6.1", "bcc-0.26@linux-6.1-split"])
@pytest.mark.parametrize("name", sorted(LOADED_AS))
def test_program_types_from_macros_and_context_parameters_load(recorded, name, cell):
    """Guest mode loads through bcc; split mode through bpfsys (attach type and BTF id of its own)."""
    case, obs, versions = recorded(f"tests/fixtures/cases/{name}", cell)
    assert set(case.prog_types().values()) == LOADED_AS[name]
    assert obs.functions and all(f.loaded for f in obs.functions), [(f.name, f.error) for f in obs.functions]
    assert {f.prog_type for f in obs.functions} == LOADED_AS[name]


def test_a_program_with_no_function_compiles_and_passes():
    from pathlib import Path
    from harness.cases import Case, LoadExpectation
    case = Case("maps_only", Path("maps_only.c"), "BPF_HASH(h, u32, u64);\n", "d", (), (), LoadExpectation(True))
    obs = Observation("maps_only", "cell", "ok", compiled=True, rewritten="BPF_HASH(h, u32, u64);\n")
    assert classify(case, obs, {}).outcome is Outcome.PASS


def test_rewriter_diagnostics_doc_agrees_with_the_code():
    from pathlib import Path
    from harness.rewriter_diagnostics import CLASS_OF_BLAME, DIAGNOSTICS
    doc = (Path(__file__).resolve().parent.parent / "docs" / "rewriter-diagnostics.md").read_text()
    rows = {}
    for line in doc.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]
            rows[cells[0].strip("`").replace("\\|", "|")] = (cells[1], cells[2])
    want = {}
    for d in DIAGNOSTICS:
        cls = CLASS_OF_BLAME[d.blame] or "none (warning)"
        want[d.text] = (d.blame, "INVALID (ENV when report-only)" if d.blame == "program" else cls)
    assert rows == want


def test_dereferences_on_a_line_arrows_first():
    from harness.attribution import dereferences
    text = ("#define PID_OF(t) ((t)->pid)\nint f(struct pt_regs *ctx) {\n"
            "  return (*pp)->a + q->b.c + ctx->di + n * m + PID_OF(r) + MAX(n, m) + t->comm[i + 1];\n}\n")
    assert [d.text for d in dereferences(text, 3)] == ["(*pp)->a", "q->b.c", "ctx->di", "t->comm[i + 1]", "PID_OF(r)",
                                                       "*pp"]


def test_a_tracing_target_missing_from_the_kernel_is_environment():
    """The log bcc 0.26's readahead tool got on linux 6.1 (no do_page_cache_ra in its BTF), split mode."""
    from pathlib import Path
    from harness.cases import Case, Function, LoadExpectation
    from harness.observation import FunctionLoad
    log = ("Tracing programs must provide btf_id\n"
           "processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n")
    fn = FunctionLoad("kfunc__do_page_cache_ra", "fentry", False, "EINVAL: Invalid argument", log)
    case = Case("ra", Path("ra.c"), "KFUNC_PROBE(do_page_cache_ra)\n{\n    return 0;\n}\n", "d",
                (Function("kfunc__do_page_cache_ra", "fentry", 1, 4),), (), LoadExpectation(True), report_only=True)
    obs = Observation("ra", "cell", "ok", compiled=True, rewritten=case.text, functions=(fn,))
    r = classify(case, obs, {})
    assert r.outcome is Outcome.ENV and "attach-target" in r.message
