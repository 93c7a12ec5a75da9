"""Processes the harness starts (VMs, host sandboxes) die with it, even when it is SIGKILLed.

A kill -9 of the harness runs no handler, atexit or finally, so only the kernel can clean up: the child
asks, between fork and exec, for SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG). The setting
survives exec (qemu, unshare, sh, chroot: no set-uid binary on the way).

The kernel sends it when the *thread* that forked the child exits, not the process. The harness starts
VMs from pool worker threads; each of those threads waits in the same call for its child to end (qemu's
boot(), split's run_sandboxed() poll until the process is gone), so no thread ever exits before its
child does, and a SIGKILL of the harness ends every thread at once, which is the case we want covered.
"""

import ctypes
import os
import signal
from typing import Callable

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)   # resolved before any fork: the child only calls it
_prctl = _libc.prctl


def die_with_harness() -> Callable[[], None]:
    """A preexec_fn for subprocess.Popen: SIGKILL the child when the harness (its parent) dies.
    It touches no lock another thread could hold at fork time: one libc call and two syscalls."""
    harness = os.getpid()

    def preexec() -> None:
        if _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(127)
        if os.getppid() != harness:      # the harness died between fork and prctl: never start
            os._exit(127)
    return preexec
