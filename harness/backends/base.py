"""The one small interface every backend (qemu, vagrant, host) implements, and what it returns.

A backend gets a GuestJob (a cell, its images, the cases, a work directory) and returns a GuestRun:
the directory where the guest program's per-case results landed, plus how the run itself went.
It never interprets results; observation.py does, the same way for every backend.
"""

import json
import shutil
import tarfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Dict, List, Optional, Protocol, Tuple

from .. import safe_tar
from ..cases import Case
from ..images.store import Image
from ..paths import project_root
from ..progress import Progress

GUEST_DIR = project_root() / "harness" / "guest"


@dataclass(frozen=True)
class GuestJob:
    cell_name: str
    rewriter: Image
    kernel: Image
    cases: Tuple[Case, ...]
    workdir: Path
    case_timeout: int = 900
    # the oracle and runtime checks follow in this cell: split mode keeps the cases' PCHs for their programs
    keep_headers: bool = False


class RunStatus(StrEnum):
    """How a backend's run ended. Anything but OK is harness trouble, never a class of the rewriter."""
    OK = "ok"
    TIMEOUT = "timeout"                 # the guest did not finish in its deadline
    BOOT_FAILED = "boot-failed"         # the kernel or box did not come up
    NO_OUTPUT = "no-output"             # it ran, but gave back no results
    ERROR = "error"                     # the host side failed (a compile sandbox killed, vagrant)
    INTERRUPTED = "interrupted"         # Ctrl-C: finished cases are kept
    GUEST_CRASHED = "guest-crashed"     # the guest kernel crashed (Oops, panic) before every case had run


@dataclass(frozen=True)
class GuestRun:
    outdir: Path            # <case id>/result.json, compile.log, load-*.log; status
    console: Optional[Path]
    status: RunStatus
    detail: str
    seconds: float
    boot_seconds: Optional[float] = None
    command: str = ""


class Backend(Protocol):
    """The whole contract between the pipeline and a backend; a backend never reaches into another's
    internals (split mode's loading boot goes through QemuBackend.boot, a public method)."""
    name: str               # also part of the result cache key: results of different backends differ
    groups_by_kernel: bool  # run_matrix hands run_group every cell of one kernel at once

    def run(self, job: GuestJob, progress: Progress) -> GuestRun: ...

    def run_group(self, jobs: List[GuestJob], progress: Progress) -> List[GuestRun]:
        """Jobs of one kernel (several rewriters), in order; a backend that does not group runs them
        one by one (OneJobAtATime)."""

    def run_programs(self, mode: str, entries: List[dict], files: Dict[str, str], rewriter: Image,
                     kernel: Image, workdir: Path, task: str, progress: Progress) -> GuestRun:
        """The runtime modes (oracle, runtime): compile, load, attach, trigger, read the maps; the
        guest program's per-case <mode>.json files land in the returned outdir."""


class OneJobAtATime:
    """run_group for a backend whose every job is its own run (one VM or box per cell)."""
    groups_by_kernel = False

    def run_group(self, jobs: List[GuestJob], progress: Progress) -> List[GuestRun]:
        return [self.run(job, progress) for job in jobs]


def guest_dir_name(case: Case) -> str:
    """A case's directory name in the guest: its id with path separators flattened."""
    return case.id.replace("/", "__")


def new_guest_input(inp: Path) -> Path:
    """An input directory holding the guest program (guest/*.py); callers add their job.json."""
    (inp / "guest").mkdir(parents=True, exist_ok=True)
    for source in GUEST_DIR.glob("*.py"):
        shutil.copy(source, inp / "guest" / source.name)
    return inp


def write_program_input(inp: Path, mode: str, entries: List[dict], files: Dict[str, str],
                        output_device: str = "/dev/vdd", case_timeout: int = 900) -> Path:
    """An input directory for the runtime modes (oracle, runtime): program texts by name under cases/,
    and one job entry per case naming them (or, in split mode, the bundles compiled from them)."""
    if inp.exists():
        shutil.rmtree(inp)
    new_guest_input(inp)
    (inp / "cases").mkdir()
    for name, text in files.items():
        (inp / "cases" / name).write_text(text)
    (inp / "job.json").write_text(json.dumps({"mode": mode, "cases": entries, "case_timeout": case_timeout,
                                              "output_device": output_device}, indent=1))
    return inp


def write_input(job: GuestJob, mode: str = "run", output_device: str = "", dest: Optional[Path] = None) -> Path:
    """The guest program's input directory: the guest code, the case programs and job.json."""
    inp = dest or job.workdir / "in"
    if inp.exists():
        shutil.rmtree(inp)
    new_guest_input(inp)
    (inp / "cases").mkdir()
    entries = []
    for case in job.cases:
        name = guest_dir_name(case)
        (inp / "cases" / f"{name}.c").write_text(case.text)
        entries.append({"id": name, "file": f"cases/{name}.c", "prog_types": case.prog_types(),
                        "cflags": list(case.cflags)})
    job_data = {"cell": job.cell_name, "mode": mode, "cases": entries, "case_timeout": job.case_timeout,
                "output_device": output_device}
    (inp / "job.json").write_text(json.dumps(job_data, indent=1))
    return inp


def tar_directory(src: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w") as tar:
        tar.add(src, arcname=".")
    return dest


def untar_results(disk: Path, dest: Path) -> bool:
    """Unpack the guest's output disk; False when the guest never wrote one. The guest appends each case
    as it finishes (a file is there several times: the last copy wins), so a guest killed while adding a
    case still leaves every case before it: unpack member by member and keep what came before a break."""
    dest.mkdir(parents=True, exist_ok=True)
    unpacked = 0
    try:
        with tarfile.open(disk, "r:") as tar:
            for member in tar:
                safe_tar.extract(tar, member, dest)
                unpacked += 1
    except (tarfile.TarError, OSError, EOFError):
        pass
    return unpacked > 0
