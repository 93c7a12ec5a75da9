"""Nothing the harness starts outlives it: a SIGKILL of the harness takes its VMs and sandboxes along."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A parent that starts a long child from a pool worker thread, as the pipeline starts VMs, then waits.
PARENT = """
import subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, sys.argv[1])
from harness.lifetime import die_with_harness

def start():
    child = subprocess.Popen(["sleep", "1000"], preexec_fn=die_with_harness())
    print(child.pid, flush=True)
    child.wait()

with ThreadPoolExecutor(2) as pool:
    pool.submit(start)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def processes_of(run: str):
    """(pid, command line) of every live process whose command line names a path under `run`, or whose
    root is there (the sandbox's runner, chrooted into the rewriter root mounted under the run)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                root = os.readlink(entry / "root")
            except OSError:
                continue
            if (run in cmdline or run in root) and alive(int(entry.name)):
                found.append((int(entry.name), cmdline))
    return found


def wait_for(predicate, seconds: float, step: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def test_a_child_started_from_a_worker_thread_dies_with_a_sigkilled_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(ROOT)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert wait_for(lambda: not alive(child), 5), f"sleep {child} outlived its killed parent"


@pytest.mark.vm
@pytest.mark.parametrize("what", ["qemu-system", "runner.py"])
def test_sigkill_of_a_split_mode_run_leaves_no_vm_and_no_sandbox(tmp_path, what):
    """Killed while the compile sandbox (unshare, exec'd into the runner) or the loading boot (qemu)
    runs: nothing of the run remains."""
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path / "runs"), HARNESS_HISTORY=str(tmp_path / "h.db"))
    argv = [sys.executable, "-m", "harness", "run", "--mode", "split", "--no-cache", "--cell", "bcc-0.26@linux-6.1",
            "cases/indirection"]        # 13 cases: the sandbox's runner lives longer than the wait below
    harness = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ours = str(tmp_path / "runs")          # every VM and sandbox of this run names a file under it
    try:
        started = wait_for(lambda: [p for p in processes_of(ours) if what in p[1]], 900, 0.05)
        assert started, f"no {what} process of this run appeared"
        harness.send_signal(signal.SIGKILL)       # the harness alone: its children are not signalled
        harness.wait()
        assert wait_for(lambda: not processes_of(ours), 10), \
            f"still running 10 s after the harness was killed: {processes_of(ours)}"
    finally:
        if harness.poll() is None:
            harness.kill()
        for pid, _ in processes_of(ours):      # never leave one behind, even when the test fails
            os.kill(pid, signal.SIGKILL)
