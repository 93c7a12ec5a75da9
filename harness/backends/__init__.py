"""Backends: where a cell's programs are compiled and loaded. All return the same GuestRun."""

from .base import Backend
from .qemu import QemuBackend
from .qemu_argv import probe_accel
from .split import SplitBackend
from ..shared_clang import ShareHeaders

MODES = ("auto", "guest", "split")


def resolve_mode(mode: str) -> str:
    """auto: split mode when KVM is not usable (clang in a TCG guest is 10-30x slower), else guest."""
    if mode == "auto":
        return "guest" if probe_accel().accel == "kvm" else "split"
    return mode


def backend_for(mode: str, cell=None, share_headers: ShareHeaders = ShareHeaders.ON) -> Backend:
    """A Vagrant cell (vms/matrix.toml backend = "vagrant") always runs in its box, whatever the mode.
    `share_headers` is split mode's shared kernel headers; other modes compile each case alone."""
    if cell is not None and cell.backend == "vagrant":
        from .vagrant import VagrantBackend     # python-vagrant is needed only for Vagrant cells
        return VagrantBackend()
    return SplitBackend(share_headers=share_headers) if resolve_mode(mode) == "split" else QemuBackend()
