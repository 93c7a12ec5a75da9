"""A backend that boots nothing: it replays guest outputs recorded from real runs, and can inject faults.

It lets the pipeline (run_cell, run_matrix, the oracle and runtime stages, the store, the history, the
summary, the exit codes) be tested without a VM, and lets bench/faults.py break a run on purpose.
Recordings are directories as the guest program leaves them (tests/record_fixtures.py re-records
them): `status`, one directory per case, and for the runtime modes `oracle/` and `runtime/` holding
one directory per program entry. A case no recording holds gets no files, as if the guest never
reached it.

Faults, each like the real one as the pipeline sees it (what qemu.py / split.py return):
- stop_after=k, stop_status="ok"        the guest panics after k cases (qemu exits; the output disk
                                        holds k cases; panic=-1 -no-reboot)
- stop_after=k, stop_status="timeout"   the guest hangs after k cases and is killed at the deadline
- stop_after=k, stop_status="error"     the host sandbox is killed after compiling k cases
- crash_case=<case id>                  bcc dies of SIGSEGV in that case's child process
- drop_case=<case id>                   that case's files vanish after its status line was written
- raise_in="run" | "oracle" | "runtime" the backend raises (a bug, a full disk, ...)
- delay=seconds                         time per case, so a test can kill the harness midway
"""

import argparse
import json
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

from ..images.store import Image
from ..interrupt import stop_requested
from ..observation import guest_status
from ..paths import project_root
from ..progress import Progress
from .base import GuestJob, GuestRun, OneJobAtATime, RunStatus, guest_dir_name

RECORDED = project_root() / "tests" / "fixtures" / "recorded"
DEFAULT_RECORDINGS = (RECORDED / "bcc-0.26@linux-6.1", RECORDED / "bcc-0.26@linux-6.1-runtime")
STOP_DETAIL = {RunStatus.OK: "", RunStatus.TIMEOUT: "the guest did not finish in {s}s",
               RunStatus.ERROR: "the host sandbox exited -9 (killed)",
               RunStatus.BOOT_FAILED: "the guest did not finish booting"}


class InjectedFault(RuntimeError):
    pass


@dataclass(frozen=True)
class Faults:
    stop_after: Optional[int] = None
    stop_status: str = "ok"        # a RunStatus value (from the command line's JSON)
    crash_case: str = ""
    drop_case: str = ""
    raise_in: str = ""
    delay: float = 0.0


class ReplayBackend(OneJobAtATime):
    name = "replay"

    def __init__(self, recordings: Sequence[Path] = DEFAULT_RECORDINGS, faults: Faults = Faults(),
                 groups_by_kernel: bool = False):
        self.recordings = [Path(r) for r in recordings]
        self.faults = faults
        self.groups_by_kernel = groups_by_kernel
        self.asked: List[str] = []          # "<cell> <case id>" for every case a run was asked for
        self.versions = json.loads((self.recordings[0] / "versions.json").read_text())

    # -- images: manifests as the image builder writes them, keyed by the recorded versions ------------
    def image(self, kind: str, name: str) -> Image:
        facts = {"key": f"replay-{kind}-{name}-{self.versions['bcc']}-{self.versions['kver']}",
                 "bcc_version": self.versions["bcc"], "kernel_version": self.versions["kernel"],
                 "kver": self.versions["kver"],
                 "packages": {"python3-bpfcc": self.versions["python3-bpfcc"],
                              f"linux-image-{self.versions['kver']}": self.versions["linux-image"]}}
        return Image(self.recordings[0], facts)

    # -- the Backend protocol ---------------------------------------------------------------------------
    def run(self, job: GuestJob, progress: Progress) -> GuestRun:
        if self.faults.raise_in == "run":
            raise InjectedFault("injected: the backend raised")
        t0 = time.monotonic()
        out = _fresh(job.workdir / "out")
        status, detail = RunStatus.OK, ""
        lines = []
        for n, case in enumerate(job.cases):
            if stop_requested():
                status, detail = RunStatus.INTERRUPTED, "stopped by Ctrl-C; finished cases are kept"
                break
            if self.faults.stop_after is not None and n >= self.faults.stop_after:
                status = RunStatus(self.faults.stop_status)
                detail = STOP_DETAIL[status].format(s=job.case_timeout)
                break
            self.asked.append(f"{job.cell_name} {case.id}")
            progress(f"cell {job.cell_name}", n, len(job.cases), f"start {case.id}")
            time.sleep(self.faults.delay)
            line = self._replay_case(guest_dir_name(case), case.id, out)
            if line:
                lines.append(line)
                (out / "status").write_text("".join(lines))
        return GuestRun(out, None, status, detail, time.monotonic() - t0, boot_seconds=0.0, command="replay")

    def run_programs(self, mode: str, entries: List[dict], files: Dict[str, str], rewriter: Image,
                     kernel: Image, workdir: Path, task: str, progress: Progress) -> GuestRun:
        if self.faults.raise_in == mode:
            raise InjectedFault(f"injected: the {mode} run raised")
        out = _fresh(workdir / "out")
        for entry in entries:
            src = self._find(Path(mode) / entry["id"])
            if src is not None:
                shutil.copytree(src, out / entry["id"])
        return GuestRun(out, None, RunStatus.OK, "", 0.0, boot_seconds=0.0, command="replay")

    # -- helpers ------------------------------------------------------------------------------------------
    def _find(self, rel: Path) -> Optional[Path]:
        return next((r / rel for r in self.recordings if (r / rel).is_dir()), None)

    def _replay_case(self, name: str, case_id: str, out: Path) -> str:
        """Copy one recorded case into `out`; its status line ('' when no recording has it)."""
        src = self._find(Path(name))
        verdict, seconds = next((s[name] for s in map(guest_status, self.recordings) if name in s), (None, 0))
        if src is None or verdict is None:
            return ""
        shutil.copytree(src, out / name)
        if case_id == self.faults.crash_case:       # SIGSEGV while compiling: no result.json
            (out / name / "result.json").unlink(missing_ok=True)
            verdict = "signal-11"
        if case_id == self.faults.drop_case:
            shutil.rmtree(out / name)
        return f"{name}:{verdict}:{seconds:.3f}\n"


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


@contextmanager
def installed(backend: ReplayBackend) -> Iterator[ReplayBackend]:
    """Make the pipeline (and `python -m harness run`) use `backend` and its recorded images."""
    from .. import pipeline, setup
    saved = pipeline.backend_for, pipeline.rewriter_image, pipeline.kernel_image, setup.ensure
    pipeline.backend_for = lambda mode, cell=None, share_headers=None: backend
    pipeline.rewriter_image = lambda spec, progress=None: backend.image("rewriter", spec.name)
    pipeline.kernel_image = lambda spec, progress=None: backend.image("kernel", spec.name)
    setup.ensure = lambda install=False, echo=print: True      # no qemu or mmdebstrap needed
    try:
        yield backend
    finally:
        pipeline.backend_for, pipeline.rewriter_image, pipeline.kernel_image, setup.ensure = saved


def main(argv: Sequence[str]) -> int:
    """python -m harness.backends.replay [--faults JSON] [--asked FILE] -- <harness command line>"""
    p = argparse.ArgumentParser(prog="python -m harness.backends.replay")
    p.add_argument("--faults", default="{}", help=f"JSON of {list(asdict(Faults()))}")
    p.add_argument("--asked", type=Path, help="write the cases the backend was asked to run here")
    p.add_argument("--grouped", action="store_true", help="group cells by kernel, as split mode does")
    p.add_argument("harness_args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    from ..__main__ import main as harness_main
    backend = ReplayBackend(faults=Faults(**json.loads(args.faults)), groups_by_kernel=args.grouped)
    try:
        with installed(backend):
            return harness_main([a for a in args.harness_args if a != "--"])
    finally:
        if args.asked:
            args.asked.write_text("".join(f"{a}\n" for a in backend.asked))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
