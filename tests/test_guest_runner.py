"""The guest program's wait on a case's child (guest/runner.py): verdicts, with a pidfd and without."""

import os
import signal
import time

import pytest

from harness.guest import runner


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
