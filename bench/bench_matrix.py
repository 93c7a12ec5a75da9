"""Benchmark: a matrix run (the path `python -m harness run` takes) against its floor, split by phase.

    python bench/bench_matrix.py [CASES...] [--cell NAME|all ...] [-j N] [--oracle] [--cached]
                                 [--share-headers off|on|verify] [--whole-kallsyms] [--json out.json]

From one run it prints:
- wall time;
- the floor: (sum of bcc's own compile time, the runner's `compile` timing, and kernel load time over
  every observation made in this run, plus bcc's compile time of the oracle's and runtime checks'
  programs; cached ones cost nothing) / cores. With shared headers (split
  mode's default, as `run`), the PCH builds and, with verify, the unshared compiles are work the run
  chose to do, so they count in the floor too;
- the ratio wall / floor (issue 16's targets: <= 1.15 for the whole default matrix, then below 1);
- the same floor in CPU time (cpu_split): the runner's timings are wall time, so a compile that waited
  for a core counts its wait; the host sandboxes' CPU time does not;
- how many cores were busy, per minute, and the core-seconds left idle (where wall exceeds the floor);
- the tail: what still ran after the last host compile ended;
- the split by phase, in seconds summed over the threads that ran them (cells run concurrently, so the
  phases can add up to more than the wall time): prepare (image lookups, result cache), compile (host
  sandboxes in split mode), boot (qemu start to the guest program), load (the rest of the loading
  boots), oracle (value oracle and runtime checks, their compiles and boots included), record (run
  directory, result cache, history), personality (only when not cached yet).

Defaults: cases/ and the default cells (`--cell all` is the whole default matrix: long here). Nothing is
taken from the result cache unless --cached (which measures a rerun with nothing changed). Images and
personalities are made ready before timing starts. Results and history go to a temporary directory.
`--share-headers off --whole-kallsyms` is bcc as it runs alone (each compile parses its headers and reads
the kernel's whole kallsyms): the floor goal 2 of issue 16 compares against.
"""

import argparse
import functools
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import pipeline, result_cache, store  # noqa: E402
from harness.backends import qemu, resolve_mode, split  # noqa: E402
from harness.cases import load_cases  # noqa: E402
from harness.images.build import kernel_image, rewriter_image  # noqa: E402
from harness.matrix import load_matrix  # noqa: E402
from harness.progress import silent  # noqa: E402
from harness.shared_clang import ShareHeaders  # noqa: E402
from harness.guest.shared_headers import SHARING_TIMINGS  # noqa: E402

PHASES = ("prepare", "compile", "boot", "load", "oracle", "record", "personality")


class PhaseClock:
    """Seconds per phase, summed over threads. A phase entered inside oracle or personality counts as
    that outer phase (their own compiles and boots are part of them); otherwise time is exclusive."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.spans = []         # (phase, start, end, what): the outermost calls, for the tail
        self.local = threading.local()
        self.lock = threading.Lock()

    def add(self, phase: str, seconds: float) -> None:
        with self.lock:
            self.seconds[phase] += seconds

    def wrap(self, owner, name: str, phase: str, split_boot: bool = False, what=lambda args: "") -> None:
        """`what(args)` names a call in the tail's report."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kw):
            stack = self.local.__dict__.setdefault("stack", [])
            if stack and stack[-1][0] in ("oracle", "personality"):
                return original(*args, **kw)
            now = time.monotonic()
            if stack:       # pause the enclosing phase
                outer, since = stack[-1]
                self.add(outer, now - since)
            stack.append([phase, now])
            result = None
            try:
                result = original(*args, **kw)
            finally:
                _, since = stack.pop()
                end = time.monotonic()
                spent = end - since
                booted = getattr(result, "boot_seconds", None) if split_boot else None
                if booted:
                    self.add("boot", min(booted, spent))
                    spent -= min(booted, spent)
                self.add(phase, spent)
                if stack:
                    stack[-1][1] = end
                else:
                    with self.lock:
                        self.spans.append((phase, now, end, what(args)))
            return result
        setattr(owner, name, timed)


class CpuSampler(threading.Thread):
    """How many of the machine's cores were busy, once a second (from /proc/stat): where the wall time
    exceeds the floor, this shows when (an idle tail, a boot with the compiles waiting)."""

    def __init__(self, cores: int):
        super().__init__(daemon=True)
        self.cores, self.busy, self.stopped = cores, [], threading.Event()
        self.vms = {}       # qemu pid -> its CPU seconds when last seen (a VM lives far longer than 1 s)
        self.roles = {}     # qemu pid -> what the VM was for (vm_role)
        self.tick = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _ticks():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)     # busy (not idle, not iowait), all

    def run(self) -> None:
        last = self._ticks()
        while not self.stopped.wait(1.0):
            now = self._ticks()
            total = now[1] - last[1]
            self.busy.append(self.cores * (now[0] - last[0]) / total if total else 0.0)
            last = now
            self._see_vms()

    def _see_vms(self) -> None:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            if comm.startswith("qemu-system"):
                self.vms[pid] = (int(rest[11]) + int(rest[12])) / self.tick     # utime + stime
                if pid not in self.roles:
                    self.roles[pid] = vm_role(pid)

    def vm_split(self) -> str:
        """qemu's CPU time by what the VMs were for: where TCG's cost goes."""
        spent, count = defaultdict(float), defaultdict(int)
        for pid, seconds in self.vms.items():
            spent[self.roles.get(pid, "?")] += seconds
            count[self.roles.get(pid, "?")] += 1
        return ", ".join(f"{role} {spent[role]:.0f} s in {count[role]} VMs" for role in sorted(spent, key=spent.get,
                                                                                           reverse=True))

    def summary(self) -> str:
        if not self.busy:
            return "cores busy: not sampled"
        idle = sum(max(0.0, 1.0 - b) for b in self.busy)        # seconds with less than one core busy
        spare = sum(max(0.0, self.cores - b) for b in self.busy)
        per_min = [self.busy[i:i + 60] for i in range(0, len(self.busy), 60)]
        bars = "".join(" ▁▂▃▄▅▆▇█"[min(8, round(8 * sum(m) / len(m) / self.cores))] for m in per_min)
        return (f"cores busy: mean {sum(self.busy) / len(self.busy):.2f} of {self.cores}; core-seconds left idle "
                f"{spare:.0f} (of which {idle:.0f} with not even one core busy); per minute |{bars}|")


def vm_role(pid: str) -> str:
    """A VM's job, from its console's directory (qemu_argv: -serial file:<workdir>/console.log): load,
    oracle, runtime, or the personality's capture."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    consoles = [a for a in argv if a.startswith("file:") and a.endswith(".log")]
    if not consoles:
        return "?"
    where = Path(consoles[0][len("file:"):]).parent.name
    return "personality" if where == "vm" else where


PROGRAM_TIMINGS = ("compile",) + SHARING_TIMINGS


def count_program_compiles(spent: list) -> None:
    """The oracle's probe and twin and the runtime checks' programs are compiled by bcc too (split
    mode: on the host); their `compile` timings join the floor's compile time."""
    original = split.SplitBackend.run_programs

    @functools.wraps(original)
    def counted(self, mode, entries, files, rewriter, kernel, workdir, task, progress):
        run = original(self, mode, entries, files, rewriter, kernel, workdir, task, progress)
        for path in (Path(workdir) / "compile-out").glob("*/result.json"):
            try:
                timings = json.loads(path.read_text()).get("timings", {})
            except (OSError, ValueError):
                continue
            spent.append(sum(timings.get(k, 0.0) for k in PROGRAM_TIMINGS))
        return run
    split.SplitBackend.run_programs = counted


SPENT_LOCK = threading.Lock()


def count_sandbox_cpu(spent: dict) -> None:
    """Each host sandbox's CPU time, as its runner measured it (runner.write_cpu), by what it compiled:
    the cases, or the oracle's or runtime checks' programs."""
    original = split.run_sandboxed

    @functools.wraps(original)
    def counted(rewriter, kernel, pers, inp, work, name, *args, **kw):
        out, problem = original(rewriter, kernel, pers, inp, work, name, *args, **kw)
        try:
            cpu = json.loads((out / "cpu.json").read_text())
        except (OSError, ValueError):
            return out, problem
        kind = Path(work).name if Path(work).name in ("oracle", "runtime") else "cases"
        with SPENT_LOCK:
            spent[kind] = spent.get(kind, 0.0) + cpu["runner"] + cpu["children"]
        return out, problem
    split.run_sandboxed = counted


def instrument(clock: PhaseClock, observations: list) -> None:
    clock.wrap(pipeline, "prepare_cell", "prepare")
    clock.wrap(split.SplitBackend, "compile_on_host", "compile", what=lambda a: a[1].cell_name)
    clock.wrap(qemu.QemuBackend, "boot", "load", split_boot=True, what=lambda a: a[7] if len(a) > 7 else "")
    clock.wrap(pipeline, "run_oracle", "oracle")
    clock.wrap(pipeline, "run_runtime", "oracle")
    clock.wrap(split, "personality", "personality")
    put = result_cache.put

    def keep(key, obs):     # every observation made in this run passes here (cached ones do not)
        observations.append(obs)
        return put(key, obs)
    result_cache.put = keep
    for owner, name in ((store.RunDir, "record_results"), (store.RunDir, "record_observations"),
                        (pipeline, "to_history"), (result_cache, "put")):
        clock.wrap(owner, name, "record")


def warm(cells, mode: str) -> None:
    """Images and personalities: cached artefacts, not per-run work; made ready before timing."""
    for cell in cells:
        rewriter, kernel = rewriter_image(cell.rewriter), kernel_image(cell.kernel)
        if mode == "split":
            split.personality(kernel, rewriter, qemu.QemuBackend(), silent)


def cpu_seconds(sampler: CpuSampler):
    """CPU seconds so far: the harness's own process, the VMs (qemu), the host sandboxes (every other child)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    vms = sum(sampler.vms.values())
    return me.ru_utime + me.ru_stime, vms, children.ru_utime + children.ru_stime - vms


def cpu_split(sampler: CpuSampler, parts: dict, wall: float, cores: int, by_job: dict) -> str:
    """The floor in CPU time. The floor above sums the runner's timings, which are wall time: a compile
    that waited for a core others held (a VM, another shard) counts its wait. Here: the CPU time of the
    host compiles' sandboxes (every process in them: bcc's compiles of cases, PCH builds, second compiles
    and the runtime modes' programs, and the runners around them, which use little), i.e. the children's
    CPU time less the VMs' (qemu, sampled once a second from /proc) and less nothing else (the harness
    starts no other processes while it runs), plus the kernel's load, over the cores."""
    me, vms, sandboxes = cpu_seconds(sampler)
    cpu_floor = (sandboxes + parts["load_s"]) / cores
    jobs = ", ".join(f"{kind} {seconds:.0f} s" for kind, seconds in sorted(by_job.items(), key=lambda kv: -kv[1]))
    return (f"CPU time: host compile sandboxes {sandboxes:.0f} s (by job, as their runners measured it: {jobs}; "
            f"of which bcc's own compile of the cases "
            f"{parts['compile_cpu_s']:.0f} s, against {parts['compile_s']:.0f} s of wall time); qemu {vms:.0f} s "
            f"({sampler.vm_split()}); "
            f"the harness's own process {me:.0f} s. A floor of CPU time, (sandboxes + load) / "
            f"{cores} cores: {cpu_floor:.1f} s, ratio {wall / cpu_floor:.2f}")


def tail(spans, end: float) -> str:
    """What ran after the last host compile ended: the part of the run one core alone may be doing."""
    compiles = [e for phase, _, e, _ in spans if phase == "compile"]
    if not compiles:
        return "tail: no host compile"
    last = max(compiles)
    after = sorted((s, f"{phase} {what}".strip() + f" {e - max(s, last):.0f} s") for phase, s, e, what in spans
                   if e > last and phase not in ("compile", "record", "prepare"))
    return (f"tail: the last host compile ended {end - last:.0f} s before the end; after it ran: "
            + ("; ".join(text for _, text in after) or "nothing timed"))


def floor_parts(observations) -> dict:
    compile_s = sum(o.timings.get("compile", 0.0) for o in observations)
    pch_s = sum(o.timings.get(k, 0.0) for o in observations for k in SHARING_TIMINGS)
    import_s = sum(o.timings.get("import", 0.0) for o in observations)
    compile_cpu_s = sum(o.timings.get("compile_cpu", 0.0) for o in observations)
    # a case whose bundle was loaded once for an identical one (backends/same_loads.py) cost no load
    load_s = sum(f.load_seconds or 0.0 for o in observations if not o.timings.get("load_reused") for f in o.functions)
    reused = sum(1 for o in observations if o.timings.get("load_reused"))
    load_vm_s = sum(o.timings.get("load_vm", 0.0) for o in observations)   # the guest's per-case process
    return {"compile_s": compile_s, "pch_s": pch_s, "load_s": load_s, "import_s": import_s, "load_vm_s": load_vm_s,
            "compile_cpu_s": compile_cpu_s, "loads_reused": reused}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", type=Path)
    p.add_argument("--cell", action="append", help="a cell, or 'all' (default: the default cells)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--mode", default="auto")
    p.add_argument("--oracle", action="store_true", help="the oracle in the matrix's oracle_cells, as tox -e kernels")
    p.add_argument("--cached", action="store_true", help="take known results from the result cache (a rerun)")
    p.add_argument("--share-headers", type=ShareHeaders, choices=list(ShareHeaders), default=ShareHeaders.ON,
                   metavar="{" + ",".join(s.value for s in ShareHeaders) + "}")
    p.add_argument("--whole-kallsyms", action="store_true",
                   help="compiles read the kernel's whole kallsyms, as bcc alone (compile_kallsyms.py)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    if args.whole_kallsyms:     # the same switch bench_compile_kallsyms's reference uses
        split.SplitBackend._kallsyms = lambda self, pers, work: None

    cells = load_matrix().select(args.cell)
    cells = [c for c in cells if c.backend == "qemu"]
    cases = list(load_cases(args.cases or [ROOT / "cases"], ROOT / "cases").cases)
    mode = resolve_mode(args.mode)
    oracle_cells = set(load_matrix().oracle_cells) & {c.name for c in cells} if args.oracle else set()
    warm(cells, mode)

    tmp = Path(tempfile.mkdtemp(prefix="bench-matrix-"))
    os.environ.update(HARNESS_RESULTS_DIR=str(tmp / "runs"), HARNESS_HISTORY=str(tmp / "history.db"))
    clock, observations, programs = PhaseClock(), [], []
    instrument(clock, observations)
    count_program_compiles(programs)
    sandbox_cpu = {}
    count_sandbox_cpu(sandbox_cpu)
    run = store.RunDir.create(sys.argv, mode=mode)
    print(f"{len(cases)} cases x {len(cells)} cells, {mode} mode, -j {args.jobs}, "
          f"{'cached' if args.cached else 'nothing cached'}, shared headers {args.share_headers.value}"
          f"{', whole kallsyms' if args.whole_kallsyms else ''}", flush=True)
    cores = os.cpu_count() or 1
    sampler = CpuSampler(cores)
    sampler.start()
    t0 = time.monotonic()
    results, _ = pipeline.run_matrix(cells, cases, mode, run, silent, args.jobs, 900, args.cached, oracle_cells,
                                     args.share_headers)
    wall = time.monotonic() - t0
    sampler.stopped.set()

    parts = dict(floor_parts(observations), programs_s=sum(programs))
    floor = (parts["compile_s"] + parts["pch_s"] + parts["programs_s"] + parts["load_s"]) / cores
    row = {"cases": len(cases), "cells": len(cells), "mode": mode, "jobs": args.jobs, "cached": args.cached,
           "share_headers": args.share_headers.value, "whole_kallsyms": args.whole_kallsyms,
           "oracle_cells": sorted(oracle_cells), "results": len(results), "cores": cores,
           "runs_dir": str(tmp / "runs"), "started": time.strftime("%H:%M:%S", time.localtime(time.time() - wall)),
           "wall_s": round(wall, 1), "floor_s": round(floor, 1),
           "ratio": round(wall / floor, 2) if floor else None,
           **{k: round(v, 1) for k, v in parts.items()},
           "phases_s": {ph: round(clock.seconds.get(ph, 0.0), 1) for ph in PHASES}}
    print(f"wall {row['wall_s']:.1f} s | floor {row['floor_s']:.1f} s = (bcc compile {parts['compile_s']:.1f} s "
          f"+ sharing's own work (cc1 stubs, PCH builds, second compiles) {parts['pch_s']:.1f} s "
          f"+ the oracle's and runtime checks' {len(programs)} programs' "
          f"compile {parts['programs_s']:.1f} s + load {parts['load_s']:.1f} s) / {cores} cores | ratio "
          + (f"{row['ratio']:.2f}" if row["ratio"] else "n/a (nothing compiled)"))
    print(f"not in the floor: import bcc {parts['import_s']:.1f} s; the guest's load processes "
          f"{parts['load_vm_s']:.1f} s for {len(observations)} cases run (of which the kernel's own load is "
          f"{parts['load_s']:.1f} s); {parts['loads_reused']} cases' bundles were identical to another's and "
          f"not loaded again")
    print("phases (s, summed over threads): "
          + ", ".join(f"{ph} {row['phases_s'][ph]:.1f}" for ph in PHASES))
    print(sampler.summary())
    print(tail(clock.spans, t0 + wall))
    print(cpu_split(sampler, parts, wall, cores, sandbox_cpu))
    row.update(zip(("harness_cpu_s", "qemu_cpu_s", "sandbox_cpu_s"), (round(x, 1) for x in cpu_seconds(sampler))))
    row["cores_busy_per_s"] = [round(b, 2) for b in sampler.busy]
    if args.json:
        args.json.write_text(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
