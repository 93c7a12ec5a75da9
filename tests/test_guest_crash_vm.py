"""For real: a case whose load crashes the guest kernel costs only itself (backends/qemu.py, _resume).

The guest program is the harness's own, with one change made here: mode_load's load_one writes "c" to
/proc/sysrq-trigger for one case, so the kernel panics while that case loads, every time. The loading
boot in split mode (bcc-0.26@linux-6.1) must give the other cases the classes a run without the crash
gives, and report the crashing case as harness trouble that names the crash and the case.
"""

import shutil
from pathlib import Path

import pytest

from harness import pipeline, result_cache, store
from harness.backends import base
from harness.cases import load_cases
from harness.matrix import load_matrix
from harness.outcome import Outcome
from harness.progress import silent
from harness.shared_clang import ShareHeaders

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.vm

CRASHER = "seed/sock_in_map"
CASES = ["seed/count_sched", CRASHER, "seed/sock_through_u64", "indirection/store_through_ptr_to_ptr"]
CRASH = f'''

_load_one = load_one


def load_one(bundle_path, out):   # added by tests/test_guest_crash_vm.py: this case panics the kernel
    if "{CRASHER.replace("/", "__")}" in bundle_path:
        with open("/proc/sysrq-trigger", "w") as f:
            f.write("c")
    return _load_one(bundle_path, out)
'''


def run(tmp_path, monkeypatch, crash: bool):
    where = tmp_path / ("crash" if crash else "plain")
    guest = where / "guest"
    shutil.copytree(base.GUEST_DIR, guest)
    if crash:
        with open(guest / "mode_load.py", "a") as f:
            f.write(CRASH)
    monkeypatch.setattr(base, "GUEST_DIR", guest)
    monkeypatch.setattr(result_cache, "put", lambda *a: None)      # nothing of these runs is kept
    monkeypatch.setattr(result_cache, "put_proof", lambda *a: None)
    monkeypatch.setenv("HARNESS_RESULTS_DIR", str(where / "runs"))
    monkeypatch.setenv("HARNESS_HISTORY", str(where / "history.db"))
    cells = load_matrix().select(["bcc-0.26@linux-6.1"])
    cases = list(load_cases([ROOT / "cases" / f"{c}.c" for c in CASES], ROOT / "cases").cases)
    results, _ = pipeline.run_matrix(cells, cases, "split", store.RunDir.create(["test"], mode="split"), silent,
                                     2, 900, False, set(), ShareHeaders.ON)
    return {r.case_id: r for r in results}, where / "runs" / "latest" / "cells" / "bcc-0.26@linux-6.1"


def test_a_case_that_crashes_the_guest_kernel_costs_only_itself(tmp_path, monkeypatch):
    plain, _ = run(tmp_path, monkeypatch, crash=False)
    crashed, cell = run(tmp_path, monkeypatch, crash=True)
    assert set(crashed) == set(plain) == set(CASES)
    for case in CASES:
        if case != CRASHER:
            assert (crashed[case].outcome, crashed[case].message) == (plain[case].outcome, plain[case].message)
    assert plain[CRASHER].outcome is not Outcome.HARNESS
    bad = crashed[CRASHER]
    assert bad.outcome is Outcome.HARNESS, bad
    text = bad.message + bad.details
    assert "guest-crashed" in text and "Kernel panic - not syncing: sysrq triggered crash" in text, text
    assert f"while running bcc-0.26@linux-6.1/{CRASHER.replace('/', '__')}" in text, text
    consoles = sorted(p.name for p in cell.rglob("console-crashed-*.log"))
    assert consoles == ["console-crashed-1.log", "console-crashed-2.log"], consoles   # boots 1 and 2 crashed
