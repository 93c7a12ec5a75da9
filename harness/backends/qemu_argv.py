"""A pure builder of qemu's command line, and the probe that picks KVM or TCG.

Kept free of side effects so the whole command can be unit-tested, printed (`--show-command`) and
re-run by hand.
"""

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Tuple

QEMU = "qemu-system-x86_64"


@dataclass(frozen=True)
class Disk:
    path: Path
    readonly: bool = False
    snapshot: bool = False     # writes go to a throw-away overlay: many VMs can share one image


@dataclass(frozen=True)
class VmSpec:
    kernel: Path
    initrd: Path
    disks: Tuple[Disk, ...]
    console: Path
    accel: str = "tcg"         # "kvm" | "tcg"
    memory_mb: int = 2048
    cpus: int = 2
    # no_timer_check: under TCG on a busy host the kernel's IO-APIC timer test misfires and panics or
    # hangs the boot ("MP-BIOS bug: 8254 timer not connected"); a VM's timer is known good.
    # mitigations=off: the kernel's CPU-vulnerability mitigations cost emulated instructions on every
    # syscall and interrupt (about a fifth of a TCG guest's CPU, bench: 34 s -> 28 s of qemu on 46 cases).
    # The verifier skips its speculation checks for a loader with CAP_PERFMON either way (root, as
    # here: bpf_bypass_spec_v1/v4 in 5.10 to 7.2), so verdicts and logs do not change.
    cmdline: Tuple[str, ...] = field(default=("console=ttyS0", "panic=-1", "no_timer_check", "mitigations=off",
                                              "quiet", "loglevel=4"))


def build_qemu_argv(spec: VmSpec) -> List[str]:
    argv = [QEMU, "-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none"]
    if spec.accel == "kvm":
        argv += ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
    else:
        argv += ["-accel", "tcg,thread=multi", "-cpu", "max"]
    argv += ["-smp", str(spec.cpus), "-m", str(spec.memory_mb)]
    argv += ["-kernel", str(spec.kernel), "-initrd", str(spec.initrd), "-append", " ".join(spec.cmdline)]
    for disk in spec.disks:
        opts = [f"file={disk.path}", "format=raw", "if=virtio"]
        if disk.readonly:
            opts.append("readonly=on")
        if disk.snapshot:
            opts.append("snapshot=on")
        argv += ["-drive", ",".join(opts)]
    argv += ["-serial", f"file:{spec.console}"]
    return argv


def show_command(spec: VmSpec) -> str:
    return shlex.join(build_qemu_argv(spec))


@dataclass(frozen=True)
class AccelProbe:
    accel: str
    reason: str


def probe_accel(dev: str = "/dev/kvm", cpuinfo: str = "/proc/cpuinfo",
                modules: str = "/sys/module") -> AccelProbe:
    """KVM only when it can really run a guest: usable /dev/kvm, vmx/svm, not the kvm_pvm shim."""
    forced = os.environ.get("HARNESS_ACCEL")
    if forced in ("kvm", "tcg"):
        return AccelProbe(forced, "HARNESS_ACCEL")
    if not os.access(dev, os.R_OK | os.W_OK):
        return AccelProbe("tcg", f"{dev} missing or not accessible")
    if Path(modules, "kvm_pvm").exists():
        return AccelProbe("tcg", "kvm_pvm (paravirtual nested KVM) crawls or fails on stock kernels")
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        flags = ""
    if not re.search(r"^flags\s*:.*\b(vmx|svm)\b", flags, re.M):
        return AccelProbe("tcg", "the CPU shows no vmx/svm")
    return AccelProbe("kvm", "usable")
