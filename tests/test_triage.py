"""Triage of bug reports, for real: three reports across three cells, and a reduction with C-Vise.

The cells: bcc 0.26 on its own kernel (6.1), bcc 0.26 on trixie's 6.12 (its headers are too new for
it) and bcc 0.31 on 6.12."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import triage
from harness.matrix import load_matrix

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "tests" / "fixtures" / "triage"
CELLS = ["bcc-0.26@linux-6.1", "bcc-0.26@linux-6.12", "bcc-0.31@linux-6.12"]


def run_triage(tmp_path, report, *extra, timeout=1800):
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path / "runs"), HARNESS_HISTORY=str(tmp_path / "h.db"),
               COLUMNS="400")     # wide enough that no message wraps (the table has an oracle column)
    cells = [a for c in CELLS for a in ("--cell", c)]
    return subprocess.run([sys.executable, "-m", "harness", "triage", str(REPORTS / report), *cells,
                           "--cases-root", str(tmp_path / "cases"), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def rows(stdout):
    """cell -> class, from the triage table."""
    found = {}
    for line in stdout.splitlines():
        parts = [p.strip() for p in line.strip("│┃ ").split("│")]
        if len(parts) >= 2 and parts[0] in CELLS:
            found[parts[0]] = parts[1]
    return found


def test_localize_names_the_release_and_kernel():
    m = load_matrix()
    cells = [m.cell(c) for c in CELLS]
    lines = triage.localize(cells, {"bcc-0.26@linux-6.1": "PASS", "bcc-0.26@linux-6.12": "ENV",
                                    "bcc-0.31@linux-6.12": "PASS"})
    assert "on linux-6.12: ENV with bcc-0.26, PASS from bcc-0.31 on" in lines
    assert "with bcc-0.26: linux-6.1 PASS, linux-6.12 ENV" in lines


def test_annotate_replaces_expectations():
    from harness.sites import Site
    text = "int f(struct pt_regs *ctx, struct s *p) {\n  return p->a;  // expect-rewrite{{p->b}}\n}\n"
    site = Site("p->a", 2, 10, 2, 14, "bpf_probe_read", "member", "&p->a", 2)
    assert triage.annotate(text, [site]).splitlines()[1] == "  return p->a;  // expect-rewrite{{p->a}}"


# A stand-in bcc with the real calls' signatures (so positional arguments bind by name) and nothing else.
FAKE_BCC = """
class BPF(object):
    def __init__(self, *args, **kwargs):
        raise SystemExit("the real BPF() ran")
    def attach_kprobe(self, event=b"", event_off=0, fn_name=b"", event_re=b""): pass
    def attach_kretprobe(self, event=b"", fn_name=b"", event_re=b"", maxactive=0): pass
    def attach_tracepoint(self, tp=b"", tp_re=b"", fn_name=b""): pass
    def attach_raw_tracepoint(self, tp=b"", fn_name=b""): pass
    def attach_uprobe(self, name=b"", sym=b"", sym_re=b"", addr=None, fn_name=b"", pid=-1, sym_off=0): pass
"""
ATTACHING_REPORT = '''
from bcc import BPF
prog = """
#include <linux/fs.h>
int kprobe__do_sys_openat2(struct pt_regs *ctx) { return 0; }
int on_open(struct pt_regs *ctx, int dfd, struct filename *name) { return name->name[0] == '/'; }
int on_open_done(struct pt_regs *ctx) { return 0; }
int on_exec(void *ctx) { return 0; }
int on_enter(struct bpf_raw_tracepoint_args *ctx) { return 0; }
int on_vfs(struct pt_regs *ctx) { return 0; }
int on_malloc(struct pt_regs *ctx) { return 0; }
"""
b = BPF(text=prog)
b.attach_kprobe(b"do_filp_open", 0, b"on_open")          # positional, bytes: bound by bcc's own signature
b.attach_kprobe(event="do_filp_open", fn_name="on_open")  # the same point again: nothing lost
b.attach_kretprobe(event="do_filp_open", fn_name="on_open_done")
b.attach_tracepoint(tp="sched:sched_process_exec", fn_name="on_exec")
b.attach_raw_tracepoint(tp="sys_enter", fn_name="on_enter")
b.attach_kprobe(event_re="^vfs_(read|write)$", fn_name="on_vfs")
b.attach_kprobe(event=["vfs_read", "vfs_write"], fn_name="on_vfs")
b.attach_kprobe(event="vfs_open", fn_name="on_open")
b.attach_kprobe(event="vfs_read", fn_name="kprobe__do_sys_openat2")
b.attach_uprobe(name="c", sym="malloc", fn_name="on_malloc")
b.attach_kprobe(event="vfs_read", fn_name="not_in_the_text")
b.trace_print()
'''


def test_recorded_attach_calls_become_attach_points_and_the_rest_are_named(tmp_path):
    """The extract recorder run against the stand-in bcc; its output made a report-only case: each call the
    oracle can attach is an ATTACH line, --attach and bcc's kprobe__ names win, and every other call is
    named with why (a regex, a list, a uprobe, a second point, a function not in the text)."""
    from harness.report_attach import Unusable
    from test_extract_shim import record
    text = record(tmp_path, ATTACHING_REPORT, FAKE_BCC)
    case, skipped = triage.report_case(text, "report", tmp_path / "cases",
                                       ["on_open_done kretprobe vfs_open"])
    assert sorted(case.attach) == [("kprobe__do_sys_openat2", "kprobe", "do_sys_openat2"),
                                   ("on_enter", "raw_tracepoint", "sys_enter"),
                                   ("on_exec", "tracepoint", "sched:sched_process_exec"),
                                   ("on_open", "kprobe", "do_filp_open"),
                                   ("on_open_done", "kretprobe", "vfs_open")]
    assert "ATTACH-CALL" not in case.text
    assert [(s.call, s.why) for s in skipped] == [
        ("attach_kretprobe(event='do_filp_open', fn_name='on_open_done')", Unusable.SECOND_POINT),
        ("attach_kprobe(event_re='^vfs_(read|write)$', fn_name='on_vfs')", Unusable.REGEX),
        ("attach_kprobe(event=['vfs_read', 'vfs_write'], fn_name='on_vfs')", Unusable.LIST),
        ("attach_kprobe(event='vfs_open', fn_name='on_open')", Unusable.SECOND_POINT),
        ("attach_kprobe(event='vfs_read', fn_name='kprobe__do_sys_openat2')", Unusable.SECOND_POINT),
        ("attach_uprobe(fn_name='on_malloc', name='c', sym='malloc')", Unusable.KIND),
        ("attach_kprobe(event='vfs_read', fn_name='not_in_the_text')", Unusable.NOT_A_FUNCTION)]
    assert str(skipped[1]) == ("attach_kprobe(event_re='^vfs_(read|write)$', fn_name='on_vfs'): "
                               "a regular expression names many events, not one ATTACH point")


def test_unreadable_or_targetless_call_records_are_named(tmp_path):
    """The record comes out of the sandbox: a line that is not a call, or a call naming no single event,
    gives no ATTACH point and is named."""
    from harness.report_attach import Unusable
    text = ("int f(struct pt_regs *ctx) { return 0; }\n"
            "// ATTACH-CALL: not json\n"
            '// ATTACH-CALL: {"call": "attach_kprobe", "fn_name": "f", "event": "two words"}\n'
            '// ATTACH-CALL: {"call": "attach_tracepoint", "fn_name": "f", "tp": "no_category"}\n'
            '// ATTACH-CALL: {"call": "attach_xdp", "dev": "eth0", "fn": "f"}\n')
    case, skipped = triage.report_case(text, "r", tmp_path)
    assert case.attach == ()
    assert [s.why for s in skipped] == [Unusable.UNREADABLE, Unusable.NO_TARGET, Unusable.NO_TARGET, Unusable.KIND]
    from harness.tools_import import case_text      # imported tools keep no call records
    assert case_text("t", "t-bpfcc", "0.26", "bookworm", text).endswith("{ return 0; }\n")


@pytest.mark.vm
def test_false_positive_report(tmp_path):
    proc = run_triage(tmp_path, "fp_compound_assign.c")
    assert rows(proc.stdout) == {c: "FP-SYNTAX" for c in CELLS}, proc.stdout + proc.stderr
    assert "expression is not assignable" in proc.stdout
    written = (tmp_path / "cases" / "triage" / "fp_compound_assign.c").read_text()
    assert "expect-rewrite{{prev->nvcsw}}" in written and "// REVIEW:" in written
    assert (tmp_path / "cases" / "triage" / "fp_compound_assign.report.txt").exists()


@pytest.mark.vm
def test_false_negative_report_from_a_python_tool(tmp_path):
    proc = run_triage(tmp_path, "fn_laundered.py")
    assert "extracted from fn_laundered.py run with no arguments" in proc.stdout
    assert rows(proc.stdout) == {"bcc-0.26@linux-6.1": "FN-VERIFIER", "bcc-0.26@linux-6.12": "ENV",
                                 "bcc-0.31@linux-6.12": "FN-VERIFIER"}, proc.stdout + proc.stderr
    assert "invalid mem access 'scalar'" in proc.stdout


@pytest.mark.vm
def test_environment_incompatibility_report(tmp_path):
    proc = run_triage(tmp_path, "env_sock_state.c")
    assert rows(proc.stdout) == {"bcc-0.26@linux-6.1": "PASS", "bcc-0.26@linux-6.12": "ENV",
                                 "bcc-0.31@linux-6.12": "PASS"}, proc.stdout + proc.stderr
    assert "struct bpf_wq" in proc.stdout
    assert "on linux-6.12: ENV with bcc-0.26, PASS from bcc-0.31 on" in proc.stdout


@pytest.mark.vm
def test_reduce_keeps_the_signature_and_writes_a_reproducing_case(tmp_path):
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path / "runs"), HARNESS_HISTORY=str(tmp_path / "h.db"),
               COLUMNS="220")
    proc = subprocess.run([sys.executable, "-m", "harness", "triage", str(REPORTS / "fn_padded.c"),
                           "--cell", "bcc-0.26@linux-6.1", "--reduce", "--budget", "600",
                           "--cases-root", str(tmp_path / "cases")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert "reduced program fails in the same cells: True" in proc.stdout, proc.stdout + proc.stderr
    before = len((REPORTS / "fn_padded.c").read_text())
    case = tmp_path / "cases" / "triage" / "fn_padded.c"
    body = "\n".join(ln for ln in case.read_text().splitlines() if not ln.startswith("//"))
    assert len(body) < before * 0.8, body
    lint = subprocess.run([sys.executable, "-m", "harness", "lint", str(case)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout
    again = subprocess.run([sys.executable, "-m", "harness", "run", "--cell", "bcc-0.26@linux-6.1",
                            "--cases-root", str(tmp_path / "cases"), str(case)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert "FN-VERIFIER" in again.stdout, again.stdout


@pytest.mark.vm
def test_python_report_loading_a_socket_filter_is_judged_as_one(tmp_path):
    """The recorder notes load_func(..., BPF.SOCKET_FILTER): the function loads as a socket filter."""
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path / "runs"), HARNESS_HISTORY=str(tmp_path / "h.db"),
               COLUMNS="220")
    proc = subprocess.run([sys.executable, "-m", "harness", "triage", str(REPORTS / "socket_filter_load_func.py"),
                           "--cell", "bcc-0.26@linux-6.1", "--cases-root", str(tmp_path / "cases")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert rows(proc.stdout) == {"bcc-0.26@linux-6.1": "PASS"}, proc.stdout + proc.stderr
    assert "as socket_filter" in proc.stdout, proc.stdout
    written = (tmp_path / "cases" / "triage" / "socket_filter_load_func.c").read_text()
    assert "// PROG: drop_udp socket_filter" in written


def oracle_column(stdout, cell):
    for line in stdout.splitlines():
        parts = [p.strip() for p in line.strip("│┃ ").split("│")]
        if parts[0] == cell and len(parts) >= 4:
            return parts[3]
    return ""


@pytest.mark.vm
def test_python_report_attach_calls_give_the_oracle_its_attach_points(tmp_path):
    """No kprobe__ name and no --attach: the script's attach_kprobe call is the ATTACH point, and the oracle
    finds the pointer-member subscript's wrong address; the regex attach is named, not used."""
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path / "runs"), HARNESS_HISTORY=str(tmp_path / "h.db"),
               COLUMNS="400")
    cell = "bcc-0.26@linux-6.1"
    proc = subprocess.run([sys.executable, "-m", "harness", "triage", str(REPORTS / "wrong_read_attach_kprobe.py"),
                           "--cell", cell, "--cases-root", str(tmp_path / "cases")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400)
    out = proc.stdout + proc.stderr
    assert "oracle attaches count_absolute kprobe do_filp_open" in proc.stdout, out
    assert "attach call not used by the oracle: attach_kprobe(event_re='^do_sys_openat2$', fn_name='count_all')" \
           in proc.stdout, out
    assert rows(proc.stdout) == {cell: "WRONG-READ"}, out
    oracle = oracle_column(proc.stdout, cell)
    assert oracle.startswith("WRONG-READ at 1 site(s)") and "(-32 bytes off)" in oracle, out
    written = (tmp_path / "cases" / "triage" / "wrong_read_attach_kprobe.c").read_text()
    assert "// ATTACH: count_absolute kprobe do_filp_open" in written and "ATTACH-CALL" not in written
