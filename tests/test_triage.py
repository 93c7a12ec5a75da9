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
