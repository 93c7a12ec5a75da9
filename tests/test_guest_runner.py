"""The guest program's wait on a case's child (guest/runner.py): verdicts, with a pidfd and without."""

import os
import signal
import time

import pytest

from harness.guest import lanes, runner


def _child(action):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        try:
            action()
        finally:
            os._exit(3)
    return pid


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_verdicts(pidfd, monkeypatch):
    if not pidfd:
        monkeypatch.setattr(runner, "_pidfd", lambda pid: None)
    assert runner.wait_child(_child(lambda: os._exit(0)), 10) == "exit-0"
    assert runner.wait_child(_child(lambda: None), 10) == "exit-3"
    assert runner.wait_child(_child(lambda: os.kill(os.getpid(), signal.SIGKILL)), 10) == "signal-9"
    t0 = time.monotonic()
    assert runner.wait_child(_child(lambda: time.sleep(30)), 1) == "timeout-1"
    assert time.monotonic() - t0 < 20        # the hung child's session was killed, not waited out


def test_pidfd_is_used_where_the_kernel_has_it():
    pid = _child(lambda: os._exit(0))
    fd = runner._pidfd(pid)
    assert fd is not None       # Linux 5.3+, Python 3.9+: every host and guest the harness runs on
    os.close(fd)
    os.waitpid(pid, 0)


def _case(arg, out):
    """A fake load: records its process, then does what its arg says."""
    with open(out, "w") as f:
        f.write(str(os.getpid()))
    if arg == "raise":
        raise ValueError("a broken bundle")
    if arg == "exit":
        raise SystemExit(4)
    if arg == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if arg == "hang":
        time.sleep(60)


def test_jobs_share_a_child_until_one_kills_it(tmp_path):
    """Mode load's cases run in one child; a case that raises is exit-1 and the child goes on, one that
    kills its child or hangs has that as its verdict, and the cases after it go on in a new child."""
    args = ["ok", "raise", "exit", "kill", "ok", "hang", "ok"]
    jobs = [(f"c{k}", arg, str(tmp_path / f"c{k}")) for k, arg in enumerate(args)]
    heard = []
    lanes.run_lanes(jobs, _case, 2, lambda k, verdict, seconds: heard.append((k, verdict)))
    assert heard == [(0, "exit-0"), (1, "exit-1"), (2, "exit-4"), (3, "signal-9"), (4, "exit-0"),
                     (5, "timeout-2"), (6, "exit-0")]
    pids = [(tmp_path / f"c{k}").read_text() for k in range(len(args))]
    assert len(set(pids[:4])) == 1 and pids[4] == pids[5] and len(set(pids)) == 3


def test_two_lanes_run_at_once_and_a_death_in_one_leaves_the_other_alone(tmp_path):
    args = ["ok", "ok", "kill", "ok", "ok", "hang", "ok", "ok"]     # lane 0: even indices, lane 1: odd
    jobs = [(f"c{k}", arg, str(tmp_path / f"c{k}")) for k, arg in enumerate(args)]
    heard = {}
    lanes.run_lanes(jobs, _case, 2, lambda k, verdict, seconds: heard.setdefault(k, verdict), width=2)
    assert heard == {0: "exit-0", 1: "exit-0", 2: "signal-9", 3: "exit-0", 4: "exit-0", 5: "timeout-2",
                     6: "exit-0", 7: "exit-0"}
    pids = [(tmp_path / f"c{k}").read_text() for k in range(len(args))]
    assert pids[0] == pids[2] != pids[4] == pids[6]         # lane 0: a new child after the kill
    assert pids[1] == pids[3] == pids[5] != pids[7]         # lane 1: a new child after the hang
    assert not set(pids[0::2]) & set(pids[1::2])


def _stamp(arg, out):
    with open(out, "w") as f:
        f.write(repr(time.monotonic()))


def test_in_lockstep_a_job_starts_only_once_the_last_one_is_recorded(tmp_path):
    """After a guest kernel crash the loader runs one lane in lockstep (backends/qemu.py): a crash in a job
    must not take the record of the job before it, which the parent writes after the child reports it."""
    jobs = [(f"c{k}", "", str(tmp_path / f"c{k}")) for k in range(3)]
    for lockstep in (True, False):
        recorded = {}

        def done(k, verdict, seconds):
            time.sleep(0.3)                  # the status line and the output disk, written and synced
            recorded[k] = time.monotonic()
        lanes.run_lanes(jobs, _stamp, 10, done, width=1, lockstep=lockstep)
        started = [float((tmp_path / f"c{k}").read_text()) for k in range(3)]
        assert all(started[k + 1] > recorded[k] for k in range(2)) is lockstep, (lockstep, started, recorded)
