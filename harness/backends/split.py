"""Split mode: bcc rewrites and compiles natively on the host, the target kernel only loads.

Without usable KVM, clang parsing kernel headers inside a TCG guest costs 15-70 s per program; on the
host it costs 1-3 s. Split mode runs the same guest program (guest/runner.py, mode "compile") on the host
inside the rewriter's root filesystem, in a private mount and network namespace (unshare), with the
target kernel's personality in place of the host's:

- /lib/modules/$(uname -r) -> the target's modules dir (its build/source links -> the target's headers)
- /proc/kallsyms            -> the target's (bcc picks bpf_probe_read vs _kernel by what it finds there)
- /sys/kernel/debug/tracing -> the target's tracepoint format files (TRACEPOINT_PROBE reads them) and
                               available_filter_functions; /sys/kernel/debug/kprobes -> its blacklist
- /sys/kernel/btf/vmlinux   -> the target's BTF
The personality is captured once per kernel by booting it (runner mode "capture") and cached.
The compiled programs leave as load bundles; one boot of the target kernel loads them all (mode "load").
Results are merged into the same per-case files guest mode writes, so observation.py cannot tell.
"""

import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from .. import safe_tar, shared_clang
from ..shared_clang import ShareHeaders
from ..guest.include_sets import include_lines
from ..images.store import Image, Recipe, ensure
from ..interrupt import stop_requested
from ..progress import Progress
from .compile_shards import CLAIMS_MOUNT, PROGRAM_SLOTS, in_shards, link_or_copy
from .base import GuestJob, GuestRun, RunStatus, guest_dir_name, new_guest_input, write_input, write_program_input
from ..lifetime import die_with_harness
from .qemu import QemuBackend
from .same_loads import fill_in, first_of_each
from .compile_kallsyms import write_compile_kallsyms
from ..sandbox import COMPILE_MEMORY, COMPILE_PIDS, COMPILE_SCRATCH, REPORT_LIMITS, Cgroup, Sandboxed, run_untrusted, unsafe_cflags

PERSONALITY_RECIPE = 3
COMPILE_TIMEOUT_SLACK = 60


def personality(kernel: Image, rootfs: Image, qemu: QemuBackend, progress: Progress) -> Image:
    """The kernel's personality (kallsyms, BTF, tracepoint formats), captured by booting it once."""
    recipe = Recipe("personality", kernel.path.name, {"kernel": kernel.manifest.get("key"),
                                                       "recipe": PERSONALITY_RECIPE})

    def build(scratch: Path) -> Dict[str, object]:
        inp = new_guest_input(scratch / "in")
        (inp / "job.json").write_text(json.dumps({"mode": "capture", "cases": [],
                                                  "output_device": "/dev/vdd"}))
        run = qemu.boot(kernel, rootfs, inp, scratch / "vm", 1, 300, f"personality {kernel.path.name}",
                        progress)
        archive = run.outdir / "personality.tar.gz"
        if not archive.exists():
            raise RuntimeError(f"personality capture failed ({run.status}: {run.detail}); "
                               f"console: {run.console}")
        with tarfile.open(archive) as tar:
            safe_tar.extractall(tar, scratch / "personality")
        shutil.rmtree(scratch / "vm")
        shutil.rmtree(inp)
        files = sum(1 for f in (scratch / "personality").rglob("format") if f.stat().st_size)
        if not files:
            raise RuntimeError("personality capture found no tracepoint format with content")
        return {"tracepoint_formats": files, "kver": kernel.manifest.get("kver"),
                "btf": (scratch / "personality/btf/vmlinux").exists()}

    return ensure(recipe, build)


def sandbox_mounts(root: Path, inp: Path, out: Path, kernel: Image, pers: Image, untrusted: bool = False,
                   scripts: bool = False, claims: Optional[Path] = None,
                   kallsyms: Optional[Path] = None) -> List[list]:
    """The sandbox's tree, as steps for sandbox_launch.apply_mounts (targets relative to the new root; '' is the
    root; {release} is the host's uname -r). An untrusted program's tree has a /dev of null, zero and
    urandom instead of the host's, the kernel's personality read-only and a size-capped /tmp; with
    untrusted `scripts` (the report sandbox) the input dir is read-only too (the compile's runner, our
    own code, writes its per-case job files there). `claims`: the claims dir a compile shard shares with
    its job's other shards (compile_shards.py). `kallsyms`: the /proc/kallsyms to show, if not the
    personality's whole file (a compile's: compile_kallsyms.py)."""
    tree = kernel.path / "tree"
    p = pers.path / "personality"
    btf = p / "btf" / "vmlinux"
    ro = (lambda target: [["ro", target]]) if untrusted else (lambda target: [])

    def bind(src, target):
        return [["bind", str(src), target]] + ro(target)
    steps = [["bind", str(root), ""],
             ["mkdir", "lib/modules"], ["mkdir", "usr/src"],     # empty mount points, the only writes to the image
             ["ro", ""],                                          # the shared image directory is never written
             *([["as-sandbox-root"]] if untrusted else []),
             ["proc", "proc"], *bind(kallsyms or p / "kallsyms", "proc/kallsyms"),
             ["tmpfs", "tmp", f"size={REPORT_LIMITS.scratch if scripts else COMPILE_SCRATCH},nr_inodes=4096,mode=1777"
              if untrusted else ""],
             ["tmpfs", "run", ""], ["mkdir", "run/harness/in"], ["mkdir", "run/harness/out"],
             ["bind", str(inp), "run/harness/in"], *(ro("run/harness/in") if scripts else []),
             ["bind", str(out), "run/harness/out"],
             *([["mkdir", CLAIMS_MOUNT], ["bind", str(claims), CLAIMS_MOUNT]] if claims else []),
             ["tmpfs", "lib/modules", ""], ["mkdir", "lib/modules/{release}"],
             *bind(tree / "lib/modules" / kernel.manifest["kver"], "lib/modules/{release}"),
             *bind(tree / "usr/src", "usr/src"),
             ["tmpfs", "sys", ""], ["mkdir", "sys/kernel/debug/tracing"], ["mkdir", "sys/kernel/btf"],
             ["mkdir", "sys/fs/bpf"], *bind(p / "tracing", "sys/kernel/debug/tracing")]
    if btf.exists():
        steps += [["touch", "sys/kernel/btf/vmlinux"], *bind(btf, "sys/kernel/btf/vmlinux")]
    if (p / "kprobes").exists():    # tools read the kprobe blacklist before choosing what to attach
        steps += [["mkdir", "sys/kernel/debug/kprobes"], *bind(p / "kprobes", "sys/kernel/debug/kprobes")]
    if not untrusted:
        return steps + [["rbind", "/dev", "dev"]]
    steps += [["tmpfs", "dev", "size=64k,mode=0755"]]
    for node in ("null", "zero", "urandom"):
        steps += [["touch", f"dev/{node}"], ["bind", f"/dev/{node}", f"dev/{node}"]]
    return steps + [["rofs", target] for target in ("dev", "run", "sys", "lib/modules")]


SHELL_STEP = {"bind": "mount --bind {0} {1}", "rbind": "mount --rbind {0} {1}", "ro": "mount -o remount,bind,ro {0}",
              "rofs": "mount -o remount,ro {0}", "proc": "mount -t proc proc {0}", "mkdir": "mkdir -p {0}",
              "touch": "touch {0}"}


def _shell(step: list) -> str:
    kind, *args = step
    where = lambda rel: ("$M/" + rel if rel else "$M").replace("{release}", "$(uname -r)")  # noqa: E731
    if kind == "tmpfs":
        return f"mount -t tmpfs {'-o ' + args[1] + ' ' if args[1] else ''}tmpfs {where(args[0])}"
    if kind in ("bind", "rbind"):
        return SHELL_STEP[kind].format(args[0], where(args[1]))
    return SHELL_STEP[kind].format(where(args[0]))


RUNNER = ["/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8",
          "PYTHONDONTWRITEBYTECODE=1", "python3", "/run/harness/in/guest/runner.py", "/run/harness/in",
          "/run/harness/out"]


def sandbox_script(root: Path, mnt: Path, inp: Path, out: Path, kernel: Image, pers: Image,
                   untrusted: bool = False, cgroup_procs: Tuple[str, ...] = (), claims: Optional[Path] = None,
                   kallsyms: Optional[Path] = None) -> str:
    """The shell that builds the compile sandbox inside `unshare` (mount, PID, network, IPC, UTS) and
    runs the runner; it first joins the compile's cgroup, if any."""
    lines = ["set -e", *(f"echo 0 > {procs}" for procs in cgroup_procs), f"M={mnt}"]
    lines += [_shell(step) for step in sandbox_mounts(root, inp, out, kernel, pers, untrusted, claims=claims,
                                                      kallsyms=kallsyms)
              if step[0] != "as-sandbox-root"]     # the compile runs as real root
    lines.append("exec chroot $M " + " ".join(RUNNER))
    return "\n".join(lines) + "\n"


def run_sandboxed(rewriter: Image, kernel: Image, pers: Image, inp: Path, work: Path, name: str,
                  timeout: float, untrusted: bool = False,
                  finished: Callable[[int], None] = lambda n: None, claims: Optional[Path] = None,
                  kallsyms: Optional[Path] = None) -> Tuple[Path, str]:
    """Run the guest program on `inp` on the host as root (bcc needs bpf() to create maps while it
    compiles), in the rewriter's root with the kernel's personality, in private mount, PID, network, IPC
    and UTS namespaces, in a cgroup capping memory (so maps) and processes. An untrusted program's compile
    also gets the untrusted tree (read-only but its output, a /dev of three nodes) and is refused where
    no cgroup can be made. `finished(n)` hears how many cases are done, as they finish (progress bars).
    Returns (output dir, problem or '')."""
    out = work / f"{name}-out"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cgroup = Cgroup.create(name, COMPILE_MEMORY, COMPILE_PIDS)
    if cgroup is None and untrusted:
        return out, ("refusing to compile an untrusted program on the host: no cgroup could be made to "
                     "cap its maps' memory here (run it with --mode guest)")
    mnt = work / f"{name}-root"
    mnt.mkdir(exist_ok=True)
    script = work / f"{name}.sh"
    script.write_text(sandbox_script(rewriter.path / "root", mnt, inp, out, kernel, pers, untrusted,
                                     tuple(cgroup.procs) if cgroup else (), claims, kallsyms))
    t0 = time.monotonic()
    problem = ""
    try:
        with open(work / f"{name}.console", "w") as console:
            # the harness killed: unshare dies too (parent-death signal), and with it the PID namespace
            proc = subprocess.Popen(["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
                                     "--ipc", "--uts", "--propagation", "private", "sh", str(script)],
                                    stdout=console, stderr=subprocess.STDOUT, preexec_fn=die_with_harness())
            reported = 0
            while proc.poll() is None:
                time.sleep(0.2)
                done = _count_lines(out / "status")
                if done != reported:
                    reported = done
                    finished(done)
                if stop_requested():
                    problem = "interrupted"
                elif time.monotonic() - t0 > timeout:
                    problem = f"the host sandbox did not finish in {timeout:.0f}s"
                if problem:
                    proc.kill()
                    proc.wait()
        hit = cgroup.hit() if cgroup else []
        with open(work / f"{name}.console", "a") as console:
            console.write(f"cgroup: peak memory {cgroup.peak() >> 20} MiB of a {COMPILE_MEMORY >> 20} MiB cap\n"
                          if cgroup else "cgroup: none could be made here; memory not capped\n")
    finally:
        if cgroup:
            cgroup.close()
    if hit:
        note_limits(out, hit)
    if not problem and proc.returncode != 0:
        problem = f"the host sandbox exited {proc.returncode} (see {work / (name + '.console')})"
    return out, problem


def _count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


# where a compile's runner keeps its PCHs (Sharing.keep), and where a later compile finds them
KEPT_IN_OUT = ".headers"
PREBUILT_IN = "headers"


def enable_shared_headers(inp: Path, rewriter: Image, verify: bool, keep: bool = False,
                          prebuilt: Optional[Path] = None) -> bool:
    """Ask the runner to share header parsing (guest/shared_headers.py): put the clang matching the
    rewriter's libclang-cpp in its input. False (and nothing shared) when no such clang exists.
    keep: the runner leaves its PCHs in OUT/.headers; prebuilt: a dir of PCHs a compile of the same
    cell kept, linked into the input for this one to take as built."""
    image = shared_clang.clang_image(rewriter)
    if image is None:
        return False
    (inp / "clang").mkdir(exist_ok=True)
    shutil.copy(shared_clang.binary(image.path), inp / "clang" / "clang")
    job = json.loads((inp / "job.json").read_text())
    job["share_headers"] = {"clang": "/run/harness/in/clang/clang", "verify": verify,
                            "workdir": "/tmp/shared-headers"}
    if keep:
        job["share_headers"]["keep"] = f"/run/harness/out/{KEPT_IN_OUT}"
    if prebuilt is not None and prebuilt.is_dir():
        (inp / PREBUILT_IN).mkdir(exist_ok=True)
        for kept in prebuilt.iterdir():
            link_or_copy(kept, inp / PREBUILT_IN / kept.name)
        job["share_headers"]["prebuilt"] = f"/run/harness/in/{PREBUILT_IN}"
    (inp / "job.json").write_text(json.dumps(job, indent=1))
    return True


def include_group(inp: Path):
    """A case's first #include line and cflags: cases that can share a PCH have the same."""
    def group_of(case: dict) -> str:
        lines = include_lines((inp / case["file"]).read_text(errors="replace"))
        return json.dumps([lines[:1], case.get("cflags", [])])
    return group_of


def shared_header_notes(out: Path) -> Dict[str, dict]:
    """What header sharing did for each case of a compile output dir (result.json's shared_headers)."""
    notes = {}
    for result_path in sorted(out.glob("*/result.json")):
        try:
            note = json.loads(result_path.read_text()).get("shared_headers")
        except (OSError, ValueError):
            continue
        if note:
            notes[result_path.parent.name] = note
    return notes


def note_limits(out: Path, hit: List[str]) -> None:
    """Say in every failed compile's result that the cgroup's caps were reached, so the verdict names
    the cause (bcc itself only reports the failed map creation or dies)."""
    note = f"the host compile reached its cgroup's cap on {' and '.join(hit)}"
    for result_path in out.glob("*/result.json"):
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError):
            continue
        if not result.get("compiled"):
            log = _read_lines(result_path.parent / "compile.log")
            maps = [line.strip() for line in log if line.startswith("could not open bpf map")][:1]
            result["error"] = "; ".join([result.get("error") or "no result", *maps, note])
            result["limits"] = note     # for a process the cap killed outright (it wrote no error)
            result_path.write_text(json.dumps(result, indent=1))


def run_report_scripts(rewriter: Image, kernel: Image, pers: Image, inp: Path, work: Path, name: str,
                       timeout: float) -> Sandboxed:
    """The guest program's extract mode (untrusted Python) in the report sandbox (sandbox.py): no
    capability over the host, the untrusted tree, its output dir a size-capped scratch tmpfs."""
    scratch = work / f"{name}-scratch"
    mounts = sandbox_mounts(rewriter.path / "root", inp, scratch, kernel, pers, untrusted=True, scripts=True)
    mnt = work / f"{name}-root"
    mnt.mkdir(parents=True, exist_ok=True)
    argv = ["/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", *RUNNER[4:]]
    return run_untrusted(mounts, mnt, argv, {}, work, name, REPORT_LIMITS, timeout, stop_requested)


class SplitBackend:
    name = "split"
    groups_by_kernel = True     # run_group: one loading boot per kernel for all its rewriters

    def __init__(self, qemu: QemuBackend = None, share_headers: ShareHeaders = ShareHeaders.ON,
                 full_kallsyms: bool = False):
        self.qemu = qemu or QemuBackend()
        self.share_headers = share_headers
        self.full_kallsyms = full_kallsyms      # the proof's reference only (bench_compile_kallsyms.py)
        # (rewriter, kernel) -> the PCHs its cases' compile kept for the cell's oracle and runtime checks,
        # and whether that compile's sandbox held untrusted programs; removed with the backend, at the
        # end of the run
        self.kept_headers: Dict[Tuple[Path, Path], Tuple[Path, bool]] = {}
        # results differ in what bcc was given (-include-pch), so the result cache keeps them apart
        self.name = "split" if share_headers is ShareHeaders.OFF else f"split+{share_headers.value}"

    def _share(self, inp: Path, rewriter: Image, keep: bool = False, prebuilt: Optional[Path] = None) -> bool:
        """Turn on shared headers for a compile job (guest/shared_headers.py) unless they are off or
        no clang matches the rewriter. Untrusted programs share too: their PCH is built inside their
        sandbox, by clang parsing the same <...> include lines bcc's own parse reads there anyway. A
        kept PCH goes only to a later compile of the cell in a sandbox of the same kind (untrusted or
        not) as the one that made it: what an untrusted program's sandbox wrote never reaches a trusted
        one, and a trusted one's PCHs are never handed where untrusted programs could change them."""
        return (self.share_headers is not ShareHeaders.OFF and
                enable_shared_headers(inp, rewriter, verify=self.share_headers is ShareHeaders.VERIFY, keep=keep,
                                      prebuilt=prebuilt))

    def _keep_headers(self, job: GuestJob, out: Path, untrusted: bool) -> None:
        """The PCHs the cases' compile left in its output, moved out of it (they are no case's result)
        and remembered for the cell's oracle and runtime checks (run_programs)."""
        kept = out / KEPT_IN_OUT
        if not kept.is_dir():
            return
        dest = job.workdir / "kept-headers"
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(kept), dest)
        self.kept_headers[(job.rewriter.path, job.kernel.path)] = (dest, untrusted)
        weakref.finalize(self, shutil.rmtree, dest, True)

    def _kallsyms(self, pers: Image, work: Path) -> Optional[Path]:
        """What a compile's /proc/kallsyms shows: the lines bcc's rewriter looks up (compile_kallsyms.py)."""
        if self.full_kallsyms:
            return None
        return write_compile_kallsyms(pers.path / "personality" / "kallsyms", work / "kallsyms-compile")

    def compile_on_host(self, job: GuestJob, pers: Image, progress: Progress) -> Tuple[Path, float, str]:
        """Run the runner in compile mode in the sandbox; returns (its output dir, seconds, problem)."""
        inp = write_input(job, mode="compile", dest=job.workdir / "compile-in")
        untrusted = {guest_dir_name(c) for c in job.cases if c.untrusted}
        refused = _refuse_unsafe_flags(inp, untrusted)
        shared = self._share(inp, job.rewriter, keep=job.keep_headers)
        progress(f"cell {job.cell_name}", 0, len(job.cases), "compiling on the host")
        t0 = time.monotonic()
        timeout = len(job.cases) * (job.case_timeout + COMPILE_TIMEOUT_SLACK)
        kallsyms = self._kallsyms(pers, job.workdir)
        out, problem = in_shards(
            inp, job.workdir, "compile",
            lambda shard_in, name, finished, claims: run_sandboxed(
                job.rewriter, job.kernel, pers, shard_in, job.workdir, name, timeout, bool(untrusted), finished,
                claims, kallsyms),
            lambda n: progress(f"cell {job.cell_name}", n, len(job.cases), "compiling on the host"),
            group_of=include_group(inp) if shared else None)
        self._keep_headers(job, out, bool(untrusted))
        # a failing program whose diagnostics clang may typo-correct otherwise without the PCH (a member of
        # a record the PCH declares) is redone unshared by rule, so only a difference in another says
        # something about sharing
        differing = [name for name, note in shared_header_notes(out).items()
                     if note.get("differs") and not note.get("redone")]
        if differing:
            print(f"warning: {job.cell_name}: shared headers changed what bcc produced for {', '.join(differing)}; "
                  f"their unshared compiles are kept", file=sys.stderr)
        _answer_refused(out, refused)
        return out, time.monotonic() - t0, problem

    def run(self, job: GuestJob, progress: Progress) -> GuestRun:
        return self.run_group([job], progress)[0]

    def run_group(self, jobs: List[GuestJob], progress: Progress) -> List[GuestRun]:
        """Jobs of one kernel (several rewriters): each compiles on the host, then one boot of the
        kernel loads every bundle. Case dirs in the loading VM are prefixed by the job's index."""
        t0 = time.monotonic()
        kernel = jobs[0].kernel
        assert all(j.kernel.path == kernel.path for j in jobs), "a group shares one kernel"
        pers = personality(kernel, jobs[0].rewriter, self.qemu, progress)
        # every rewriter's compile at once: the compile slots (compile_shards.py) keep the cores busy
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            compiled = list(pool.map(lambda job: self.compile_on_host(job, pers, progress), jobs))
        group_dir = jobs[0].workdir.parent / f"load-{kernel.path.name}" if len(jobs) > 1 else jobs[0].workdir
        load_in = group_dir / "load-in"
        write_input(jobs[0], mode="load", output_device="/dev/vdd", dest=load_in)
        bundles = [(f"c{k}__{case_dir.name}", case_dir / "bundle.json")
                   for k, (job, (out, _, _)) in enumerate(zip(jobs, compiled))
                   for case_dir in sorted(out.iterdir()) if (case_dir / "bundle.json").exists()]
        # rewriters often emit the same program: the kernel loads it once (same_loads.py)
        to_load, same = first_of_each(bundles)
        entries = []
        for name, bundle in bundles:
            if name in to_load:
                (load_in / "bundles" / name).mkdir(parents=True)
                shutil.copy(bundle, load_in / "bundles" / name / "bundle.json")
                entries.append({"id": name})
        job_data = json.loads((load_in / "job.json").read_text())
        job_data["cases"] = entries
        (load_in / "job.json").write_text(json.dumps(job_data, indent=1))
        load_run = None
        if entries and not stop_requested():
            names = ", ".join(j.cell_name for j in jobs)
            load_run = self.qemu.boot(kernel, jobs[0].rewriter, load_in, group_dir / "load", len(entries),
                                      120, f"{names} (loading)", progress)
        cells = {f"c{k}__": f"{job.cell_name}/" for k, job in enumerate(jobs)}
        if load_run:
            fill_in(load_run.outdir, same, cells)
        runs = []
        for k, (job, (out, _, problem)) in enumerate(zip(jobs, compiled)):
            view = _job_view(load_run.outdir, f"c{k}__", job.workdir / "load-view") if load_run else None
            outdir = job.workdir / "out"
            merge(out, view, outdir)
            status, detail = (RunStatus.OK, "")
            if problem:
                status, detail = (RunStatus.INTERRUPTED if problem == "interrupted" else RunStatus.ERROR), problem
            elif load_run and load_run.status != RunStatus.OK:
                # the loading boot's case names (c0__seed__x) as the cells' (bcc-0.26@linux-6.1/seed__x)
                named = re.sub(r"\bc\d+__", lambda m: cells.get(m.group(0), m.group(0)), load_run.detail)
                status, detail = load_run.status, f"loading VM: {named}"
            runs.append(GuestRun(outdir=outdir, console=load_run.console if load_run else None, status=status,
                                 detail=detail, seconds=time.monotonic() - t0,
                                 boot_seconds=load_run.boot_seconds if load_run else None,
                                 command=load_run.command if load_run else ""))
        return runs


    def run_programs(self, mode: str, entries: List[dict], files: Dict[str, str], rewriter: Image,
                     kernel: Image, workdir: Path, task: str, progress: Progress) -> GuestRun:
        """The runtime modes in split mode: every program of every entry compiles on the host into a
        bundle; one boot loads, attaches and triggers them all (the same runner mode, given bundles).
        A program that does not compile is answered on the host, as the guest would have."""
        t0 = time.monotonic()
        pers = personality(kernel, rewriter, self.qemu, progress)
        sources, compile_entries = {}, []
        for e in entries:
            for role, file in e["programs"].items():
                name = f"{e['id']}.{role}"
                sources[f"{name}.c"] = files[Path(file).name]
                compile_entries.append({"id": name, "file": f"cases/{name}.c", "prog_types": e["prog_types"],
                                        "cflags": e["cflags"], "tables": e["tables"]})
        compile_in = write_program_input(workdir / "compile-in", "compile", compile_entries, sources, "")
        # a report's programs (the oracle's probe and twin are made from its text) are as untrusted as it
        untrusted = {f"{e['id']}.{role}" for e in entries if e.get("untrusted") for role in e["programs"]}
        refused = _refuse_unsafe_flags(compile_in, untrusted)
        shared = self._share(compile_in, rewriter,
                             prebuilt=kept_for(self.kept_headers.get((rewriter.path, kernel.path)), bool(untrusted)))
        progress(task, 0, len(entries), "compiling on the host")
        timeout = len(compile_entries) * COMPILE_TIMEOUT_SLACK + 300
        kallsyms = self._kallsyms(pers, workdir)
        compiled, problem = in_shards(compile_in, workdir, "compile",
                                      lambda shard_in, name, finished, claims: run_sandboxed(
                                          rewriter, kernel, pers, shard_in, workdir, name, timeout,
                                          bool(untrusted), finished, claims, kallsyms),
                                      group_of=include_group(compile_in) if shared else None,
                                      slots=PROGRAM_SLOTS)
        for linked in [compile_in, *workdir.glob("compile-in-*")]:     # the kept PCHs' links: not kept twice
            shutil.rmtree(linked / PREBUILT_IN, ignore_errors=True)
        _answer_refused(compiled, refused)
        ready, answered = [], {}
        for e in entries:
            bundles = {}
            for role in e["programs"]:
                built = compiled / f"{e['id']}.{role}"
                if (built / "bundle.json").exists():
                    bundles[role] = f"bundles/{built.name}/bundle.json"
                elif e["id"] not in answered:
                    why = _compile_error(built) or problem or "no result from the host compile"
                    answered[e["id"]] = {"id": e["id"], "stage": "compile", "values": {},
                                         "error": f"{role} does not compile or load: {why}"}
            if e["id"] not in answered:
                ready.append(dict(e, bundles=bundles))
        load_in = write_program_input(workdir / "in", mode, ready, {})
        for e in ready:
            for rel in e["bundles"].values():
                (load_in / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(compiled / Path(rel).parent.name / "bundle.json", load_in / rel)
        if ready and not stop_requested():
            run = self.qemu.boot(kernel, rewriter, load_in, workdir, len(ready), 300, task, progress)
        else:
            run = GuestRun(outdir=workdir / "out", console=None, status=RunStatus.INTERRUPTED if ready else RunStatus.OK,
                           detail="", seconds=0.0)
        for e in entries:      # bcc's compile logs (its rewritten text) where guest mode leaves them
            case_out = run.outdir / e["id"]
            case_out.mkdir(parents=True, exist_ok=True)
            for role in e["programs"]:
                log = compiled / f"{e['id']}.{role}" / "compile.log"
                if log.exists():
                    shutil.copy(log, case_out / f"compile-{role}.log")
            if e["id"] in answered:
                (case_out / f"{mode}.json").write_text(json.dumps(answered[e["id"]], indent=1))
        return GuestRun(outdir=run.outdir, console=run.console, status=run.status, detail=run.detail,
                        seconds=time.monotonic() - t0, boot_seconds=run.boot_seconds, command=run.command)


def kept_for(kept: Optional[Tuple[Path, bool]], untrusted: bool) -> Optional[Path]:
    """The kept PCHs' dir for a compile whose sandbox is untrusted or not: only when the compile that
    kept them ran in the same kind of sandbox (SplitBackend._share)."""
    if kept is None or kept[1] != untrusted:
        return None
    return kept[0]


def _refuse_unsafe_flags(inp: Path, untrusted: set) -> Dict[str, str]:
    """Take untrusted cases asking clang for flags outside the allow-list out of the compile job;
    returns their errors by case dir name."""
    job = json.loads((inp / "job.json").read_text())
    refused = {}
    for entry in job["cases"]:
        bad = unsafe_cflags(entry["cflags"]) if entry["id"] in untrusted else []
        if bad:
            refused[entry["id"]] = (f"refused: an untrusted program may not pass {' '.join(bad)} to clang on "
                                    f"the host (allowed: -D, -U, -I, -O, -std=, -W<warning>, -w, -g)")
    job["cases"] = [e for e in job["cases"] if e["id"] not in refused]
    (inp / "job.json").write_text(json.dumps(job, indent=1))
    return refused


def _answer_refused(out: Path, refused: Dict[str, str]) -> None:
    """Programs _refuse_unsafe_flags took out, answered as the runner answers a program that fails."""
    for name, error in refused.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        (out / name / "result.json").write_text(json.dumps({"id": name, "compiled": False, "error": error,
                                                            "functions": [], "timings": {}}))
        with open(out / "status", "a") as status:
            status.write(f"{name}:exit-0:0.000\n")


def _compile_error(built: Path) -> str:
    try:
        return json.loads((built / "result.json").read_text()).get("error", "")
    except (OSError, ValueError):
        return ""


def _job_view(loaded: Path, prefix: str, dest: Path) -> Path:
    """The loading VM's output for one job: its prefixed case dirs under their own names, its status."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for case_dir in loaded.iterdir():
        if case_dir.is_dir() and case_dir.name.startswith(prefix):
            shutil.copytree(case_dir, dest / case_dir.name[len(prefix):])
    status = [line[len(prefix):] + "\n" for line in _read_lines(loaded / "status") if line.startswith(prefix)]
    (dest / "status").write_text("".join(status))
    return dest


def _read_lines(path: Path) -> List[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def merge(compiled: Path, loaded: Path, dest: Path) -> None:
    """Compile results + load results -> the per-case files guest mode writes (status included)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(compiled, dest)
    load_status = _status(loaded / "status") if loaded else {}
    lines = []
    for case, (verdict, seconds) in _status(compiled / "status").items():
        result_path = dest / case / "result.json"
        if verdict == "exit-0" and result_path.exists() and (compiled / case / "bundle.json").exists():
            result = json.loads(result_path.read_text())
            lverdict, lseconds = load_status.get(case, ("missing", 0.0))
            loads = _loads(loaded / case / "loads.json") if loaded else {}
            for fn in result["functions"]:
                got = loads.get(fn["name"])
                fn.pop("pending", None)
                if got:
                    fn.update(loaded=got["loaded"], error=got["error"], load_seconds=got.get("load_seconds"))
                    if got.get("same_as"):      # loaded once, for an identical bundle (same_loads.py)
                        fn["load_same_as"] = got["same_as"]
                        result["timings"]["load_reused"] = 1.0
                    if (loaded / case / got["log"]).exists():
                        shutil.copy(loaded / case / got["log"], dest / case / fn["log"])
            if loads.get("*maps*"):   # the loader could not even create the maps: harness trouble
                result["error"] = loads["*maps*"]["error"]
                lverdict = "maps-failed"
            result["timings"]["load_vm"] = lseconds
            result_path.write_text(json.dumps(result, indent=1))
            if lverdict != "exit-0":
                verdict = f"load-{lverdict}"
        lines.append(f"{case}:{verdict}:{seconds:.3f}\n")
    (dest / "status").write_text("".join(lines))


def _status(path: Path) -> Dict[str, Tuple[str, float]]:
    from ..observation import guest_status
    return guest_status(path.parent) if path.exists() else {}


def _loads(path: Path) -> Dict[str, dict]:
    try:
        return {entry["name"]: entry for entry in json.loads(path.read_text())}
    except (OSError, ValueError):
        return {}
