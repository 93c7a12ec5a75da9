"""Reading the guest program's raw files: bcc's debug output and verifier logs."""

from harness.guest.guestlib import bytecode_facts
from harness.observation import split_compile_log
from harness.verifier import parse_rejection


def test_compile_log_splits_into_rewritten_text_and_diagnostics(recorded):
    case, obs, _ = recorded("tests/fixtures/cases/fp_increment.c")
    assert obs.rewritten.startswith("#if defined(BPF_LICENSE)")
    assert obs.rewritten.rstrip().endswith("#include <bcc/footer.h>")
    assert "// CASE: fixture: an increment" in obs.rewritten
    errors = [d for d in obs.diagnostics if d.is_error]
    assert errors and all(d.phase == 2 and d.in_main_file for d in errors)
    assert "expression is not assignable" in errors[0].message
    line = obs.rewritten.splitlines()[errors[0].line - 1]
    assert "bpf_probe_read" in line and "++" in line


def test_first_pass_errors_come_before_the_rewritten_text(recorded):
    # bcc prints the rewritten text even when the first pass already failed
    _, obs, _ = recorded("tests/fixtures/cases/env_missing_header.c")
    assert "int nothing(struct pt_regs *ctx)" in obs.rewritten
    errors = [d for d in obs.diagnostics if d.is_error]
    assert [(d.phase, d.line, d.severity) for d in errors] == [(1, 2, "fatal error")]


def test_no_debug_output_means_no_text():
    assert split_compile_log("") == (None, ())


def test_verifier_log_scalar_wording(recorded):
    _, obs, _ = recorded("cases/seed/sock_through_u64.c")
    rejected = [f for f in obs.functions if not f.loaded]
    assert [f.name for f in rejected] == ["read_family"]
    rej = parse_rejection(rejected[0].verifier_log)
    assert rej.category == "invalid-mem-access"
    assert rej.source.strip().startswith("return sk->__sk_common.skc_family;")


def test_verifier_log_inv_wording_of_5_10():
    log = ("bpf: Failed to load program: Permission denied\n0: (79) r1 = *(u64 *)(r1 +112)\n"
           "; return sk->__sk_common.skc_family;\n1: (69) r0 = *(u16 *)(r1 +16)\n"
           "R1 invalid mem access 'inv'\nprocessed 2 insns (limit 1000000)\n\n"
           "HINT: The invalid mem access 'inv' error can happen if you try to dereference memory without "
           "first using bpf_probe_read_kernel() to copy it to the BPF stack.\n")
    rej = parse_rejection(log)
    assert (rej.category, rej.line) == ("invalid-mem-access", "R1 invalid mem access 'inv'")
    assert rej.source == "return sk->__sk_common.skc_family;"


def test_verifier_log_structured_wording():
    rej = parse_rejection("0: (69) r0 = *(u16 *)(r1 +16)\n"
                          "Verification failed: InvalidMemAccess: ScalarDeref\nReason: R1 is a scalar\n")
    assert rej.category == "invalid-mem-access"


def test_unknown_helper_category():
    assert parse_rejection("0: (85) call bpf_loop#181\nunknown func bpf_loop#181\n").category == "unknown-helper"


def test_bytecode_facts_count_helper_calls_and_wide_loads():
    call_probe_read = bytes([0x85, 0, 0, 0, 4, 0, 0, 0])
    call_other = bytes([0x85, 0, 0, 0, 14, 0, 0, 0])
    ld_imm64 = bytes([0x18, 0x11, 0, 0, 1, 0, 0, 0]) + bytes(8)
    exit_ = bytes([0x95, 0, 0, 0, 0, 0, 0, 0])
    count, calls = bytecode_facts(call_probe_read + ld_imm64 + call_other + call_probe_read + exit_)
    assert count == 5 and calls == {"bpf_probe_read": 2}


def test_recorded_probe_read_counts_match_sites(recorded):
    _, obs, _ = recorded("tests/fixtures/cases/nested_chain.c")
    assert sum(f.probe_read_calls for f in obs.functions) == 2
