"""The default backend: boot the cell's Debian kernel with qemu, run the guest program, collect results.

One boot per cell runs all its cases. The guest reports progress on the serial console
("HARNESS-STAGE", "HARNESS-CASE" lines), which this module turns into progress callbacks, and writes
its results as a tar on the output disk after every case, so a guest that dies later keeps them.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Optional

from ..images.store import Image
from ..interrupt import stop_requested
from ..progress import Progress
from ..lifetime import die_with_harness
from ..observation import guest_status
from .base import GuestJob, GuestRun, RunStatus, OneJobAtATime, tar_directory, untar_results, write_input, write_program_input
from .qemu_argv import Disk, VmSpec, build_qemu_argv, probe_accel, show_command

BOOT_TIMEOUT = 240          # seconds from qemu start to the guest's "mounted" stage, TCG included
OUTPUT_DISK_MB = 512
OUTPUT_DEVICE = "/dev/vdd"        # the fourth virtio disk, see vm_spec
_warned_tcg = False


def warn_tcg(reason: str) -> None:
    global _warned_tcg
    if not _warned_tcg:
        _warned_tcg = True
        print(f"WARNING: KVM not usable ({reason}); qemu runs in TCG, 10-30x slower: clang parsing "
              f"kernel headers takes 15-70 s per program in the guest.", file=sys.stderr)


class QemuBackend(OneJobAtATime):
    name = "qemu"

    def __init__(self, memory_mb: int = 3072, cpus: int = 2, accel: Optional[str] = None):
        self.memory_mb, self.cpus = memory_mb, cpus
        self.accel = accel

    def vm_spec(self, kernel: Image, rootfs: Image, workdir: Path) -> VmSpec:
        accel = self.accel or probe_accel().accel
        return VmSpec(
            kernel=kernel.file("vmlinuz"), initrd=kernel.file("initrd.img"),
            disks=(Disk(rootfs.file("rootfs.img"), snapshot=True),
                   Disk(kernel.file("kernel.img"), readonly=True),
                   Disk(workdir / "in.tar", readonly=True),
                   Disk(workdir / "out.img")),
            console=workdir / "console.log", accel=accel, memory_mb=self.memory_mb, cpus=self.cpus)

    def run(self, job: GuestJob, progress: Progress) -> GuestRun:
        """Guest mode: bcc compiles and loads every case inside the VM."""
        inp = write_input(job, mode="run", output_device=OUTPUT_DEVICE)
        return self.boot(job.kernel, job.rewriter, inp, job.workdir, len(job.cases),
                         job.case_timeout, f"cell {job.cell_name}", progress)

    def run_programs(self, mode, entries, files, rewriter, kernel, workdir, task, progress) -> GuestRun:
        """Guest mode: bcc compiles, loads and attaches each program inside the VM."""
        inp = write_program_input(workdir / "in", mode, entries, files, OUTPUT_DEVICE)
        return self.boot(kernel, rewriter, inp, workdir, len(entries), 900, task, progress)

    def boot(self, kernel: Image, rootfs: Image, inp: Path, workdir: Path, count: int,
             case_timeout: int, task: str, progress: Progress) -> GuestRun:
        """Boot `kernel` with `rootfs`, run the guest program on `inp`, unpack its results in workdir/out.

        A guest that never reaches the guest program is booted once more: under TCG with two vCPUs on
        a loaded host, Debian's kernels now and then die or hang early (an int3 left by live code
        patching, "IO-APIC + timer doesn't work", or nothing at all on a quiet console for the whole
        BOOT_TIMEOUT, as in a CI run). Nothing of the guest program had run, so the second boot redoes
        nothing. A guest stage that reported its own failure (a disk that does not mount) is not
        retried: that fails the same way twice. The first console is kept as console-failed-boot.log."""
        run = self._boot_once(kernel, rootfs, inp, workdir, count, case_timeout, task, progress)
        if run.status == RunStatus.BOOT_FAILED and run.boot_seconds is None and \
                not _failed_stage(_stage_lines(run.console)):
            if run.console and run.console.exists():
                shutil.copy(run.console, workdir / "console-failed-boot.log")
            progress(task, 0, count, "the kernel did not boot (panic or hang): booting again")
            run = self._boot_once(kernel, rootfs, inp, workdir, count, case_timeout, task, progress)
        if run.status == RunStatus.GUEST_CRASHED:
            run = self._resume(run, kernel, rootfs, inp, workdir, case_timeout, task, progress)
        return run

    def _resume(self, crashed: GuestRun, kernel: Image, rootfs: Image, inp: Path, workdir: Path,
                case_timeout: int, task: str, progress: Progress) -> GuestRun:
        """After the guest kernel crashed mid-run (under TCG, most often an int3 left by live code patching
        when a program attaches), up to RESUMES more boots run the cases that have no status line yet, so
        one case never costs the others their results. They run one at a time (a crash then names one
        case), the ones running at a crash last: a case that was alone at two crashes is not run again,
        and the run says which case and which crash (GUEST_CRASHED); a crash that does not come back
        costs nothing. Each crashed console is kept (console-crashed-N.log); all boots' status lines too."""
        job = json.loads((inp / "job.json").read_text())
        statuses, suspects, dropped, run = _read(crashed.outdir / "status"), Counter(), {}, crashed
        seconds = 0.0
        for boot in range(1, RESUMES + 1):
            shutil.copy(run.console, workdir / f"console-crashed-{boot}.log")
            running = crash_running(_console_lines(run.console))
            suspects.update(running)
            if len(running) == 1 and suspects[running[0]] >= 2:
                dropped[running[0]] = run.detail
            done = set(guest_status(run.outdir)) | set(dropped)     # every boot's lines: merged below
            left = sorted((c for c in job["cases"] if c["id"] not in done), key=lambda c: suspects[c["id"]])
            if not left:
                break
            again = workdir / "in-resumed"
            shutil.rmtree(again, ignore_errors=True)
            shutil.copytree(inp, again)
            (again / "job.json").write_text(json.dumps(dict(job, cases=left, lanes=1), indent=1))
            progress(task, 0, len(left), f"{run.detail}: booting again for the {len(left)} cases left")
            seconds += run.seconds
            run = self._boot_once(kernel, rootfs, again, workdir, len(left), case_timeout, task, progress)
            statuses += _read(run.outdir / "status")
            (run.outdir / "status").write_text(statuses)
            if run.status != RunStatus.GUEST_CRASHED:
                break
        if run.status == RunStatus.OK and dropped:
            run = replace(run, status=RunStatus.GUEST_CRASHED, detail="; ".join(dropped.values()))
        elif run.status == RunStatus.OK:
            run = replace(run, detail=f"resumed after a crash that did not come back ({crashed.detail})")
        return replace(run, seconds=seconds + run.seconds, boot_seconds=crashed.boot_seconds)

    def _boot_once(self, kernel: Image, rootfs: Image, inp: Path, workdir: Path, count: int,
                   case_timeout: int, task: str, progress: Progress) -> GuestRun:
        probe = probe_accel()
        if (self.accel or probe.accel) == "tcg":
            warn_tcg(probe.reason)
        workdir.mkdir(parents=True, exist_ok=True)
        tar_directory(inp, workdir / "in.tar")
        out_img = workdir / "out.img"
        out_img.unlink(missing_ok=True)
        with open(out_img, "wb") as f:
            f.truncate(OUTPUT_DISK_MB * 2**20)
        spec = self.vm_spec(kernel, rootfs, workdir)
        spec.console.unlink(missing_ok=True)
        command = show_command(spec)
        (workdir / "qemu.cmd").write_text(command + "\n")
        deadline = BOOT_TIMEOUT + count * (case_timeout + 30)
        total = count
        progress(task, 0, total, "booting")
        t0 = time.monotonic()
        boot_seconds = None
        status, detail = RunStatus.OK, ""
        proc = subprocess.Popen(build_qemu_argv(spec), stdin=subprocess.DEVNULL,
                                stdout=open(workdir / "qemu.out", "wb"), stderr=subprocess.STDOUT,
                                preexec_fn=die_with_harness())
        seen = finished = 0
        try:
            while proc.poll() is None:
                time.sleep(0.5)
                if stop_requested():
                    raise KeyboardInterrupt
                elapsed = time.monotonic() - t0
                lines = _console_lines(spec.console)
                for line in lines[seen:]:
                    if line.startswith("HARNESS-STAGE mounted") and boot_seconds is None:
                        boot_seconds = elapsed
                        progress(task, 0, total, "booted")
                    m = re.match(r"HARNESS-CASE (start|done) (\d+) (\d+) (\S+)", line)
                    if m:       # a load lane's start names its job's index, not how many are done
                        finished = int(m.group(2)) if m.group(1) == "done" else finished
                        progress(task, finished, total, f"{m.group(1)} {m.group(4)}")
                seen = len(lines)
                if boot_seconds is None and elapsed > BOOT_TIMEOUT:
                    status, detail = RunStatus.BOOT_FAILED, f"the guest did not finish booting in {BOOT_TIMEOUT}s"
                    break
                if elapsed > deadline:
                    status, detail = RunStatus.TIMEOUT, f"the guest did not finish in {deadline}s"
                    break
        except KeyboardInterrupt:
            status, detail = RunStatus.INTERRUPTED, "stopped by Ctrl-C; finished cases are kept"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        seconds = time.monotonic() - t0
        outdir = workdir / "out"
        got_output = untar_results(out_img, outdir)
        stages = _stage_lines(spec.console)
        if status == RunStatus.OK:
            failed = _failed_stage(stages)
            crash = guest_crash(_console_lines(spec.console)) if boot_seconds else ""
            if failed:
                status, detail = RunStatus.BOOT_FAILED, failed
            elif crash:
                status, detail = RunStatus.GUEST_CRASHED, crash
            elif not got_output:
                status = RunStatus.NO_OUTPUT if boot_seconds else RunStatus.BOOT_FAILED
                detail = f"qemu exited {proc.returncode}; last guest stage: {stages[-1] if stages else 'none'}"
        os.unlink(out_img)
        return GuestRun(outdir=outdir, console=spec.console, status=status, detail=detail,
                        seconds=seconds, boot_seconds=boot_seconds, command=command)


RESUMES = 2    # boots after a guest kernel crash: a case alone at two crashes is left out, the rest run
CRASH = re.compile(r"^\[[\d. ]+\] (Oops: .*|BUG: .*|general protection fault.*|Kernel panic - not syncing: .*)$")
RIP = re.compile(r"^\[[\d. ]+\] RIP: [0-9a-f]+:(\S+)")
CASE = re.compile(r"HARNESS-CASE (start|done) \d+ \d+ (\S+)")


def crash_running(lines) -> list:
    """The cases the guest had started and not finished: those running when it stopped."""
    running = []
    for line in lines:
        m = CASE.match(line)
        if m and m.group(1) == "start":
            running.append(m.group(2))
        elif m and m.group(2) in running:
            running.remove(m.group(2))
    return running


def guest_crash(lines) -> str:
    """'' or, when the guest kernel crashed with cases still running, one line naming the crash, where it
    was (RIP), and the cases running at the time: what a maintainer needs to tell a kernel or qemu problem
    from a program's. Under TCG an `Oops: int3` is the trace of a race in live code patching."""
    running = crash_running(lines)
    first = next((k for k, line in enumerate(lines) if CRASH.match(line)), None)
    if first is None or not running:
        return ""
    oops = CRASH.match(lines[first]).group(1)
    rip = next((m.group(1) for m in map(RIP.match, lines[first:]) if m), "")
    return f"the guest kernel crashed ({oops}{', RIP ' + rip if rip else ''}) while running {', '.join(running)}"


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _failed_stage(stages) -> str:
    """The HARNESS-STAGE line in which the guest's init reported a failure of its own ('' if none)."""
    return next((s for s in stages if " failed " in f"{s} "), "")


def _stage_lines(console: Optional[Path]):
    return [ln for ln in _console_lines(console) if ln.startswith("HARNESS-STAGE")] if console else []


def _console_lines(path: Path):
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []
