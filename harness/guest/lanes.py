"""Many small jobs in few children (mode load): the parent's side and the children's.

In a TCG guest a fork and an exit cost about as much as the kernel's own load of a program, so the
loader's jobs do not get a child each. They are dealt into lanes, one per CPU; each lane's jobs run
one after another in one child that reports each on a pipe as it finishes. A job that raises is
exit-1 and its child goes on; one that kills its child or hangs past the timeout gets that as its
verdict (what a child of its own would have had), and the lane's jobs after it go on in a new child.
The lanes run at once, so a guest with two CPUs loads two programs at a time.

Stdlib only (it runs in the guest).
"""

import atexit
import os
import select
import signal
import sys
import time

from guestlib import exit_code_of, say, verdict_of


def run_lanes(jobs, work, timeout, done, width=1, lockstep=False):
    """Run (case id, arg, out) jobs as `work(arg, out)`, in `width` lanes; `done(k, verdict, seconds)`
    hears each job (k its index in jobs) as it finishes. In lockstep a child starts its next job only
    once `done` has returned for the last: what `done` records then survives a kernel crash in the next."""
    lanes = [Lane(jobs, list(range(i, len(jobs), width)), work, timeout, lockstep) for i in range(width)]
    lanes = [lane for lane in lanes if lane.todo]
    for lane in lanes:
        lane.fork()
    while lanes:
        now = time.monotonic()
        wait = max(0.0, min(lane.deadline for lane in lanes) - now)
        ready = select.select([lane.pipe for lane in lanes], [], [], wait)[0]
        for lane in lanes:
            if lane.pipe in ready:
                lane.hear(done)
            elif time.monotonic() >= lane.deadline:
                lane.kill(done)
        lanes = [lane for lane in lanes if lane.todo or lane.pid]


class Lane:
    """One lane's jobs still to do (indices into jobs) and the child doing them."""

    def __init__(self, jobs, todo, work, timeout, lockstep=False):
        self.jobs, self.todo, self.work, self.timeout, self.lockstep = jobs, todo, work, timeout, lockstep
        self.pid, self.pipe, self.buf, self.deadline, self.ack = 0, None, b"", 0.0, None

    def fork(self):
        r, w = os.pipe()
        ack_r, ack_w = os.pipe() if self.lockstep else (None, None)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            if ack_w is not None:
                os.close(ack_w)
            _child(self.jobs, self.todo, self.work, w, ack_r)
        os.close(w)
        if ack_r is not None:
            os.close(ack_r)
        self.pid, self.pipe, self.buf, self.ack = pid, r, b"", ack_w
        self.deadline = time.monotonic() + self.timeout

    def hear(self, done):
        chunk = os.read(self.pipe, 4096)
        if not chunk:       # end of file: the child, the pipe's only writer, is gone
            self._ended(done, verdict_of(os.waitpid(self.pid, 0)[1]))
            return
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            index, verdict, seconds = line.split()
            self.todo.remove(int(index))
            done(int(index), verdict.decode(), float(seconds))
            self.deadline = time.monotonic() + self.timeout
            if self.ack is not None:
                os.write(self.ack, b".")

    def kill(self, done):
        os.killpg(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        self._ended(done, "timeout-%d" % self.timeout)

    def _ended(self, done, verdict):
        """The child is gone: the job it was in (if any) has its death as verdict; the rest go on."""
        os.close(self.pipe)
        if self.ack is not None:
            os.close(self.ack)
        self.pid, self.pipe, self.ack = 0, None, None
        if self.todo:
            k = self.todo.pop(0)
            done(k, verdict, time.monotonic() - (self.deadline - self.timeout))
        if self.todo:
            self.fork()


def _child(jobs, todo, work, pipe, ack=None):
    """The child: each job in turn, "k verdict seconds" on the pipe after each."""
    code = 1        # what escapes the loop (a failed write) is the current job's
    try:
        os.setsid()
        atexit._clear()
        for k in todo:
            say("start", k + 1, len(jobs), jobs[k][0])    # the console then names a job a kernel crash stopped
            t0 = time.monotonic()
            verdict = "exit-%d" % exit_code_of(work, jobs[k][1], jobs[k][2])
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(pipe, b"%d %s %.3f\n" % (k, verdict.encode(), time.monotonic() - t0))
            if ack is not None:
                os.read(ack, 1)     # lockstep: the parent has recorded it
        code = 0
    finally:
        atexit._run_exitfuncs()
        os._exit(code)
