"""The case format: annotations, gates, functions, and clear errors for bad files."""

from pathlib import Path

import pytest

from harness.cases import CaseError, load_cases, parse_case

GOOD = """// CASE: two functions, one rejected on purpose
// XFAIL: bcc<0.30, kernel>=6.0 a reason with a link https://example.invalid/1
// REQUIRES: kernel>=5.5
#include <linux/sched.h>

int first(struct pt_regs *ctx, struct task_struct *t)
{
    // expect-rewrite@+1{{t->pid}}
    int pid = t->pid;
    return pid + t->tgid;  // expect-rewrite{{t->tgid}}
}

static inline int helper(int x) { return x; }

int kretprobe__second(struct pt_regs *ctx)
{
    // expect-load: reject invalid-mem-access
    return helper(1);
}

TRACEPOINT_PROBE(sched, sched_switch)
{
    return args->prev_pid;
}
"""


def write(tmp_path: Path, name: str, text, mode="w") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_good_case_parses_everything(tmp_path):
    case = parse_case(write(tmp_path, "good.c", GOOD), tmp_path)
    assert case.id == "good"
    assert case.description == "two functions, one rejected on purpose"
    assert [(s.line, s.text, s.col) for s in case.sites] == [(9, "t->pid", 15), (10, "t->tgid", 18)]
    assert [(f.name, f.prog_type) for f in case.functions] == [
        ("first", "kprobe"), ("kretprobe__second", "kretprobe"), ("tracepoint__sched__sched_switch", "tracepoint")]
    assert case.load.ok
    assert not case.load_expectation("kretprobe__second").ok
    assert case.load_expectation("kretprobe__second").category == "invalid-mem-access"
    assert case.load_expectation("first").ok
    xfail = case.xfails[0]
    assert xfail.gate.holds({"bcc": "0.26.0", "kernel": "6.1.176"})
    assert not xfail.gate.holds({"bcc": "0.31.0", "kernel": "6.1.176"})
    assert not xfail.gate.holds({"bcc": "0.26.0", "kernel": "5.10.1"})
    assert "example.invalid/1" in xfail.reason
    assert case.requires[0].holds({"kernel": "5.10.0"}) and not case.requires[0].holds({"kernel": "4.19.0"})


def test_prog_line_sets_type(tmp_path):
    text = "// CASE: x\n// PROG: handler xdp\nint handler(struct xdp_md *ctx) { return 2; }\n"
    case = parse_case(write(tmp_path, "x.c", text), tmp_path)
    assert case.prog_types() == {"handler": "xdp"}


def test_gate_precision():
    from harness.gates import parse_gate
    gate, rest = parse_gate("kernel<6.1 because")
    assert rest == "because"
    assert gate.holds({"kernel": "6.0.9"}) and not gate.holds({"kernel": "6.1.5"})


BAD = {
    "malformed_annotation.c": ("// CASE: x\nint f(struct pt_regs *ctx) {\n  return 0; // expect-rewrite{prev->pid}\n}\n",
                               3, "malformed expect-rewrite"),
    "no_expression.c": ("// CASE: x\nint f(struct pt_regs *ctx, struct task_struct *p) {\n"
                        "  return p->pid; // expect-rewrite{{p->tgid}}\n}\n", 3, "names no expression on line 3"),
    "outside.c": ("// CASE: x\nint f(struct pt_regs *ctx) { // expect-rewrite@+9{{a}}\n  return 0;\n}\n",
                  2, "outside the file"),
    "empty.c": ("\n  \n", 1, "empty case file"),
    "not_utf8.c": (b"// CASE: x\nint f(struct pt_regs *ctx) {\n  return 0; // caf\xe9\n}\n", 3, "not UTF-8"),
    "no_description.c": ("int f(struct pt_regs *ctx) { return 0; }\n", 1, "missing '// CASE:"),
    "bad_gate.c": ("// CASE: x\n// XFAIL: bcc=0.2 oops\nint f(struct pt_regs *ctx) { return 0; }\n",
                   2, "malformed condition"),
    "bad_load.c": ("// CASE: x\n// expect-load: maybe\nint f(struct pt_regs *ctx) { return 0; }\n",
                   2, "malformed expect-load"),
    "bad_prog.c": ("// CASE: x\n// PROG: f sometype\nint f(struct pt_regs *ctx) { return 0; }\n",
                   2, "PROG wants"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_case_names_file_and_line(tmp_path, name):
    text, line, words = BAD[name]
    path = write(tmp_path, name, text)
    with pytest.raises(CaseError) as err:
        from harness.cases import read_text
        parse_case(path, tmp_path, read_text(path))
    assert err.value.line == line
    assert words in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_bad_files_do_not_stop_the_others(tmp_path):
    for name, (text, _, _) in BAD.items():
        write(tmp_path, name, text)
    write(tmp_path, "good.c", GOOD)
    loaded = load_cases([tmp_path], tmp_path)
    assert [c.id for c in loaded.cases] == ["good"]
    assert len(loaded.errors) == len(BAD)


def test_repository_cases_are_clean():
    root = Path(__file__).resolve().parent.parent
    loaded = load_cases([root / "cases", root / "tests" / "fixtures" / "cases"], root / "cases")
    assert not loaded.errors, "\n".join(map(str, loaded.errors))
    assert len(loaded.cases) >= 8


@pytest.mark.parametrize("line,annotation,words", [
    ("  return p->pid + 1; // expect-rewrite{{pid + 1}}", "pid + 1", "names no dereference"),
    ("  return q->p->a; // expect-rewrite{{p->a}}", "p->a", "names no expression on line 3"),
    ("  return a * p->b; // expect-rewrite{{*p}}", "*p", "names no expression on line 3"),
])
def test_lint_wants_a_whole_dereference(tmp_path, line, annotation, words):
    text = f"// CASE: x\nint f(struct pt_regs *ctx, struct s *p, struct t *q) {{\n{line}\n}}\n"
    with pytest.raises(CaseError, match=words.replace("(", r"\(")):
        parse_case(write(tmp_path, "lint.c", text), tmp_path)


def test_runtime_lines(tmp_path):
    text = ("// CASE: x\n// ATTACH: f tc ingress\n// TRIGGER: udp 3 100 4242\n// EXPECT-MAP: pkts[0] == 3\n"
            "// EXPECT-MAP: chars[1] == 'r'\n// EXPECT-MAP: pids[0] == $PID\n"
            "BPF_ARRAY(pkts, u64, 1);\nBPF_ARRAY(chars, char, 4);\nBPF_HASH(pids, u32, u32);\n"
            "int f(struct __sk_buff *skb) { return 0; }\n")
    case = parse_case(write(tmp_path, "rt.c", text), tmp_path)
    assert case.prog_types() == {"f": "sched_cls"}            # the ATTACH kind says the program type
    assert case.trigger == "udp 3 100 4242"
    assert case.expect_map == (("pkts", 0, "==", 3), ("chars", 1, "==", ord("r")), ("pids", 0, "==", "$PID"))
    with pytest.raises(CaseError, match="TRIGGER wants"):
        parse_case(write(tmp_path, "bad.c", text.replace("udp 3 100 4242", "udp 3")), tmp_path)
