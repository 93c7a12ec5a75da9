"""Fault injection, measured: break a run in each way below and count the results lost (must be 0).

    python bench/faults.py [--only NAME ...] [--kills N] [--seed S]

Every row runs `python -m harness run` as a real subprocess on the replay backend
(harness/backends/replay.py: guest outputs recorded from real runs of bcc 0.26 on linux 6.1, replayed
for every cell), 8 cases x 16 cells, with its own results directory, history and result cache.
After the fault: SQLite's integrity_check on the history, then a clean run on the same state.

    finished  results the harness had finished before the fault: written to results.jsonl, or (for
              faults the run survives) every result that is not HARNESS
    lost      finished results missing from the history after the next run, plus those the next run
              had to redo, plus case x cell pairs with no result at all (a run that went on must
              record every one, HARNESS for what the fault hit)
    redone    cases the next run asked the backend for; "= missing" when that is exactly the cases
              whose observation was not kept (the result cache), i.e. nothing finished was redone
"""

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import result_cache  # noqa: E402
from harness.backends.replay import ReplayBackend  # noqa: E402
from harness.cases import load_cases  # noqa: E402
from harness.matrix import load_matrix  # noqa: E402
from harness.store import RunDir  # noqa: E402

PY = sys.executable
SEED, FIXTURES = ROOT / "cases" / "seed", ROOT / "tests" / "fixtures" / "cases"
RUNTIME_CASES = (ROOT / "cases" / "oracle", ROOT / "cases" / "runtime" / "kprobe_parent_tgid.c")
Key = Tuple[str, str]       # (cell, case id)


@dataclass
class Row:
    fault: str
    how: str
    expected: int = 0
    finished: int = 0
    lost: int = 0
    integrity: str = ""
    redone: str = ""
    notes: List[str] = field(default_factory=list)


class Workspace:
    """One results directory, history, result cache and cases root; commands run on the replay backend."""

    def __init__(self, root: Path, runtime: bool = False, history: Optional[Path] = None):
        self.root, self.runtime = root, runtime
        self.cases_root = root / "cases"
        if runtime:
            for src in RUNTIME_CASES:
                dest = self.cases_root / src.relative_to(ROOT / "cases")
                dest.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir():
                    shutil.copytree(src, dest)
                else:
                    shutil.copy(src, dest)
        else:
            shutil.copytree(SEED, self.cases_root / "seed")
            for case in FIXTURES.glob("*.c"):
                shutil.copy(case, self.cases_root / case.name)
        self.history = history or root / "history.db"
        self.env = dict(os.environ, HARNESS_RESULTS_DIR=str(root / "runs"), HARNESS_HISTORY=str(self.history),
                        HARNESS_CACHE_DIR=str(root / "cache"), COLUMNS="200", PYTHONPATH=str(ROOT))
        self.cells = [c for c in load_matrix().all_cells() if c.backend == "qemu"]
        self.cases = list(load_cases([self.cases_root], self.cases_root).cases)
        self.expected: Set[Key] = {(c.name, k.id) for c in self.cells for k in self.cases}
        self.asked_files = 0

    def argv(self, faults: Optional[dict] = None, grouped: bool = False) -> Tuple[List[str], Path]:
        self.asked_files += 1
        asked = self.root / f"asked-{self.asked_files}"
        argv = [PY, "-m", "harness.backends.replay", "--faults", json.dumps(faults or {}), "--asked", str(asked)]
        argv += ["--grouped"] if grouped else []
        argv += ["--", "run", "-j", "2", "--cell", "all", "--cases-root", str(self.cases_root), str(self.cases_root)]
        argv += ["--oracle", "--oracle-cell", "all"] if self.runtime else []
        return argv, asked

    def run(self, faults: Optional[dict] = None, grouped: bool = False, prefix=()) -> Tuple[int, Set[Key]]:
        argv, asked = self.argv(faults, grouped)
        proc = subprocess.run([*prefix, *argv], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600)
        return proc.returncode, read_asked(asked)

    def rows(self) -> Dict[str, Dict[Key, str]]:
        """Run id -> (cell, case) -> class, from the history."""
        if not self.history.exists():
            return {}
        con = sqlite3.connect(self.history, timeout=60)
        try:
            if not con.execute("SELECT name FROM sqlite_master WHERE name='results'").fetchone():
                return {}       # killed or starved before the schema was written
            out: Dict[str, Dict[Key, str]] = {}
            for run_id, cell, case, outcome in con.execute(
                    "SELECT r.run_id, c.name, r.case_id, r.outcome FROM results r JOIN cells c ON c.id = r.cell_id"):
                out.setdefault(run_id, {})[(cell, case)] = outcome
            for (run_id,) in con.execute("SELECT id FROM runs"):
                out.setdefault(run_id, {})
            return out
        finally:
            con.close()

    def run_ids(self) -> List[str]:
        return sorted(p.name for p in (self.root / "runs").glob("2*") if (p / "run.json").exists())

    def finished_in(self, run_id: str) -> Dict[Key, str]:
        """What a run wrote to its results.jsonl (whole lines only), HARNESS aside."""
        return {(r.cell, r.case_id): r.outcome.label for r in RunDir(self.root / "runs" / run_id).results()
                if r.outcome.label != "HARNESS"}

    def cached(self) -> Set[Key]:
        backend = ReplayBackend()
        before = os.environ.get("HARNESS_CACHE_DIR")
        os.environ["HARNESS_CACHE_DIR"] = self.env["HARNESS_CACHE_DIR"]
        try:       # put back: tests call this in-process, and a leaked cache dir moves every later image
            out = set()
            for cell in self.cells:
                rewriter = backend.image("rewriter", cell.rewriter.name).manifest["key"]
                kernel = backend.image("kernel", cell.kernel.name).manifest["key"]
                out |= {(cell.name, c.id) for c in self.cases
                        if result_cache.get(result_cache.key(c, rewriter, kernel, backend.name))}
            return out
        finally:
            if before is None:
                os.environ.pop("HARNESS_CACHE_DIR", None)
            else:
                os.environ["HARNESS_CACHE_DIR"] = before

    def integrity(self) -> str:
        if not self.history.exists():
            return "no file"
        con = sqlite3.connect(self.history, timeout=60)
        try:
            return con.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            con.close()


def read_asked(path: Path) -> Set[Key]:
    try:
        return {tuple(line.split(" ", 1)) for line in path.read_text().splitlines() if line}
    except OSError:
        return set()


@lru_cache(maxsize=2)
def reference(runtime: bool = False) -> Dict[Key, str]:
    """The classes of a clean run, which every run after a fault must end with."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp), runtime)
        ws.run()
        (run_id,) = ws.run_ids()
        return ws.rows()[run_id]


def recover(ws: Workspace, row: Row, before_ids: List[str], finished: Dict[Key, str], ref: Dict[Key, str]) -> Row:
    """The next, clean run after a fault: count what was lost and what was redone."""
    cached = ws.cached()
    row.integrity = ws.integrity()
    code, asked = ws.run()
    rows = ws.rows()
    after = [i for i in ws.run_ids() if i not in before_ids]
    in_history = {k: v for run_id in ws.run_ids() if run_id not in after for k, v in rows.get(run_id, {}).items()}
    row.finished = len(finished)
    row.lost += sum(1 for k, v in finished.items() if in_history.get(k) != v)   # absent or changed
    row.lost += len(asked & set(finished)) + len(asked & cached)
    missing = ws.expected - cached
    row.redone = f"{len(asked)} = missing" if asked == missing else f"{len(asked)} (missing: {len(missing)})"
    final = rows.get(after[-1], {}) if after else {}
    if final != ref:
        row.notes.append(f"next run differs from a clean run in {sum(final.get(k) != v for k, v in ref.items())}")
    if code not in (0, 1):
        row.notes.append(f"next run exited {code}")
    row.integrity = row.integrity if row.integrity == ws.integrity() else f"{row.integrity}, then {ws.integrity()}"
    return row


def replayed(name: str, how: str, faults: dict, grouped: bool = False, runtime: bool = False) -> Row:
    """A fault the run survives: every case x cell gets a result, HARNESS for what the fault hit."""
    ref = reference(runtime)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp), runtime)
        row = Row(name, how, expected=len(ws.expected))
        code, _ = ws.run(faults, grouped)
        (run_id,) = ws.run_ids()
        got = ws.rows()[run_id]
        row.lost = len(ws.expected - set(got))          # a case x cell with no result at all
        harness = sum(v == "HARNESS" for v in got.values())
        finished = {k: v for k, v in got.items() if v != "HARNESS"}
        row.lost += sum(1 for k, v in finished.items() if ref.get(k) != v)
        row.notes.append(f"exit {code}, {harness} HARNESS")
        return recover(ws, row, [run_id], finished, ref)


def killed(name: str, sig: int, trials: int, rng: random.Random) -> Row:
    """SIGKILL or Ctrl-C (SIGINT to the process group) at a random instant of a run."""
    ref = reference()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "probe")
        t0 = time.monotonic()
        ws.run({"delay": 0.01})
        span = time.monotonic() - t0
    row = Row(name, f"real signal to `python -m harness run` at a random instant of its {span:.1f}s, "
                    f"{trials} times")
    codes: Dict[int, int] = {}
    integrity: List[str] = []
    for trial in range(trials):
        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace(Path(tmp))
            row.expected += len(ws.expected)
            argv, _ = ws.argv({"delay": 0.01})
            proc = subprocess.Popen(argv, cwd=ROOT, env=ws.env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(rng.uniform(0.2, span))
            os.killpg(proc.pid, sig)
            code = proc.wait()
            codes[code] = codes.get(code, 0) + 1
            before = ws.run_ids()
            finished = {k: v for run_id in before for k, v in ws.finished_in(run_id).items()}
            part = recover(ws, Row(name, ""), before, finished, ref)
            row.finished += part.finished
            row.lost += part.lost
            integrity.append(part.integrity)
            row.redone += ("" if part.redone.endswith("= missing") else f"trial {trial}: {part.redone}; ")
            row.notes += part.notes
    row.redone = row.redone or "= missing in every trial"
    # A kill before the history file was created leaves none to check ("no file, then ok").
    bad = [i for i in integrity if set(i.split(", then ")) - {"ok", "no file"}]
    row.integrity = bad[0] if bad else "ok"
    early = sum(i.startswith("no file") for i in integrity)
    if early:
        row.notes.append(f"{early} killed before the history existed")
    row.notes.insert(0, "exit codes " + ", ".join(f"{c}x{n}" for c, n in sorted(codes.items())))
    return row


def disk_full() -> Row:
    """The history on a tmpfs too small for it (a private mount namespace); the next run has room."""
    ref = reference()
    with tempfile.TemporaryDirectory() as tmp:
        probe = Workspace(Path(tmp) / "probe")
        probe.run()
        need = sum(p.stat().st_size for p in probe.history.parent.glob("history.db*"))
    size = max(64, need * 3 // 4 // 4096 * 4)   # KiB: three quarters of what the history needs
    with tempfile.TemporaryDirectory() as tmp:
        mnt = Path(tmp) / "small"
        mnt.mkdir()
        holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                   f"mount -t tmpfs -o size={size}k tmpfs {mnt} && echo ready && exec sleep 3600"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "ready", "could not mount a tmpfs"
            enter = ["nsenter", "-t", str(holder.pid), "-m", "--"]
            ws = Workspace(Path(tmp), history=mnt / "history.db")
            row = Row("ENOSPC while writing the history", f"real: history on a {size} KiB tmpfs "
                      f"(it needs {need // 1024} KiB); the next run has 64 MiB", expected=len(ws.expected))
            code, _ = ws.run(prefix=enter)
            (run_id,) = ws.run_ids()
            finished = ws.finished_in(run_id)
            con_rows = _in_namespace(enter, ws, "rows")
            row.notes.append(f"exit {code}; {len(con_rows.get(run_id, {}))} of {len(finished)} results fit")
            row.integrity = _in_namespace(enter, ws, "integrity")
            subprocess.run([*enter, "mount", "-o", "remount,size=64m", str(mnt)], check=True)
            cached = ws.cached()
            code2, asked = ws.run(prefix=enter)
            rows = _in_namespace(enter, ws, "rows")
            after = [i for i in ws.run_ids() if i != run_id]
            row.finished = len(finished)
            row.lost = sum(1 for k, v in finished.items() if rows.get(run_id, {}).get(k) != v)
            row.lost += len(asked & cached)
            row.redone = f"{len(asked)} = missing" if asked == ws.expected - cached else f"{len(asked)}"
            if rows.get(after[-1]) != ref:
                row.notes.append("next run differs from a clean run")
            row.integrity += ", then " + _in_namespace(enter, ws, "integrity")
            return row
        finally:
            holder.kill()
            holder.wait()


def _in_namespace(enter: List[str], ws: Workspace, what: str):
    """Read the history where it lives (the tmpfs exists only in the holder's mount namespace)."""
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from bench.faults import Workspace; "
            f"from pathlib import Path; ws = Workspace.__new__(Workspace); ws.history = Path({str(ws.history)!r}); ")
    code += "print(json.dumps({k: [[*kk, v] for kk, v in r.items()] for k, r in ws.rows().items()}))" \
        if what == "rows" else "print(json.dumps(ws.integrity()))"
    proc = subprocess.run([*enter, PY, "-c", code], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"reading {ws.history} failed: {proc.stderr.strip().splitlines()[-1]}")
    out = json.loads(proc.stdout)
    return {k: {(c, i): v for c, i, v in r} for k, r in out.items()} if what == "rows" else out


def concurrent() -> Row:
    """Two runs and `report` at once on one history (and one results directory and cache)."""
    ref = reference()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp))
        row = Row("two runs and a report at once", "real: two `run` processes, `report --html` in a loop "
                  "until both end", expected=2 * len(ws.expected))
        procs = [subprocess.Popen(ws.argv({"delay": 0.01})[0], cwd=ROOT, env=ws.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(2)]
        reports, failed = 0, []
        while any(p.poll() is None for p in procs):
            rep = subprocess.run([PY, "-m", "harness", "report", "--html", str(ws.root / "r.html")], cwd=ROOT,
                                 env=ws.env, capture_output=True, text=True, timeout=120)
            reports += 1
            if rep.returncode != 0 and "no runs recorded yet" not in rep.stderr:
                failed.append(rep.stderr.strip().splitlines()[-1] if rep.stderr.strip() else str(rep.returncode))
        codes = [p.returncode for p in procs]
        rows = ws.rows()
        ids = ws.run_ids()
        finished = {(run_id, *k): v for run_id in ids for k, v in ws.finished_in(run_id).items()}
        row.lost = sum(1 for run_id in ids for k in ws.expected if rows.get(run_id, {}).get(k) != ref[k])
        row.notes.append(f"runs exited {codes}; {reports} reports, {len(failed)} failed"
                         + (f": {failed[0]}" if failed else ""))
        row.lost += len(failed)
        row = recover(ws, row, ids, {}, ref)
        row.finished = len(finished)
        return row


def sandbox_killed_for_real() -> Row:
    """A real split-mode run (bcc 0.26 on linux 6.1, cases/indirection): the compile sandbox's runner
    is SIGKILLed once 3 cases are compiled; the run goes on, and a second run redoes only the rest."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # The images are the shared cached ones; a comment unique to this run gives the cases new keys in
        # the result cache that lives beside them, so the first run really compiles every case.
        nonce = os.urandom(8).hex()
        for case in (ROOT / "cases" / "indirection").glob("*.c"):
            dest = tmp / "cases" / "indirection" / case.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(case.read_text() + f"// fault injection run {nonce}\n")
        env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp / "runs"), HARNESS_HISTORY=str(tmp / "h.db"),
                   COLUMNS="200")
        argv = [PY, "-m", "harness", "run", "--mode", "split", "--cell", "bcc-0.26@linux-6.1", "--cases-root",
                str(tmp / "cases"), str(tmp / "cases")]
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None:
            # the compile runs in shards (compile-0-out, compile-1-out, ...), merged into compile-out at the end
            done = sum(_line_count(s) for s in (tmp / "runs").glob("*/cells/*/compile*-out/status"))
            if done >= 3:
                break
            time.sleep(0.1)
        runner = []
        for pid, cmd in _processes_rooted_in(str(tmp / "runs")):
            if "runner.py /run/harness/in" in cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                    runner.append(pid)
                except ProcessLookupError:     # a shard that finished its cases between the listing and now
                    pass
        proc.wait(timeout=1800)
        (run_id,) = [p.name for p in (tmp / "runs").glob("2*")]
        got = {(r.cell, r.case_id): r.outcome.label for r in RunDir(tmp / "runs" / run_id).results()}
        finished = {k: v for k, v in got.items() if v != "HARNESS"}
        row = Row("host sandbox killed (real)", f"real: split mode, bcc 0.26 on linux 6.1, SIGKILL of the compile "
                  f"sandbox's runner after 3 of {len(got)} cases", expected=len(got), finished=len(finished))
        row.notes.append(f"exit {proc.returncode}, {len(got) - len(finished)} HARNESS, killed {len(runner)} runner")
        again = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        second = [p.name for p in (tmp / "runs").glob("2*") if p.name != run_id][0]
        job = json.loads(next((tmp / "runs" / second / "cells").glob("*/compile-in/job.json")).read_text())
        asked = {("bcc-0.26@linux-6.1", e["id"].replace("__", "/")) for e in job["cases"]}
        con = sqlite3.connect(tmp / "h.db")
        rows = {(run, cell, case): outcome for run, cell, case, outcome in con.execute(
            "SELECT r.run_id, c.name, r.case_id, r.outcome FROM results r JOIN cells c ON c.id = r.cell_id")}
        row.integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.close()
        row.lost = sum(1 for k, v in finished.items() if rows.get((run_id, *k)) != v) + len(asked & set(finished))
        row.lost += sum(1 for k in got if (second, *k) not in rows)
        missing = set(got) - set(finished)
        row.redone = f"{len(asked)} = missing" if asked == missing else f"{len(asked)} (missing: {len(missing)})"
        row.notes.append(f"next run exited {again.returncode}")
        return row


def _line_count(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except OSError:        # a shard's dir merged away meanwhile
        return 0


def _processes_rooted_in(path: str) -> List[Tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and path in os.readlink(entry / "root"):
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except OSError:
            continue
    return found


ROWS = {
    "panic": lambda a: replayed("guest kernel panic mid-batch", "replay: each cell's guest writes 2 of 8 cases, "
                                "then qemu exits", {"stop_after": 2, "stop_status": "ok"}),
    "hang": lambda a: replayed("guest hang", "replay: each guest stops after 2 cases; the deadline kills it",
                               {"stop_after": 2, "stop_status": "timeout"}),
    "segfault": lambda a: replayed("bcc segfaults in one case", "replay: seed/sock_in_map's child dies of "
                                   "SIGSEGV in every cell", {"crash_case": "seed/sock_in_map"}),
    "sandbox": lambda a: replayed("host sandbox killed", "replay, split grouping: the compile sandbox exits "
                                  "-9 after 3 cases", {"stop_after": 3, "stop_status": "error"}, grouped=True),
    "vanish": lambda a: replayed("a case's files vanish", "replay: fp_increment's directory deleted after "
                                 "its status line", {"drop_case": "fp_increment"}),
    "backend": lambda a: replayed("the backend raises", "replay: run() raises in every cell",
                                  {"raise_in": "run"}),
    "oracle": lambda a: replayed("the oracle stage raises", "replay: the oracle boot raises (oracle and "
                                 "runtime cases, --oracle)", {"raise_in": "oracle"}, runtime=True),
    "runtime": lambda a: replayed("the runtime stage raises", "replay: the EXPECT-MAP boot raises",
                                  {"raise_in": "runtime"}, runtime=True),
    "sigkill": lambda a: killed("SIGKILL of the harness mid-write", signal.SIGKILL, a.kills, a.rng),
    "ctrl-c": lambda a: killed("Ctrl-C of the harness mid-write", signal.SIGINT, a.kills, a.rng),
    "sandbox-real": lambda a: sandbox_killed_for_real(),
    "enospc": lambda a: disk_full(),
    "concurrent": lambda a: concurrent(),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="*", choices=sorted(ROWS), help="only these rows")
    p.add_argument("--no-vm", action="store_true", help="skip the rows that boot a real kernel")
    p.add_argument("--kills", type=int, default=10, help="random kill instants per signal")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    args.rng = random.Random(seed)
    rows = []
    print(f"seed {seed}")
    print("| fault | injected how | results | finished before | lost | integrity_check | next run redid | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.only or [r for r in ROWS if not (args.no_vm and r.endswith("-real"))]:
        t0 = time.monotonic()
        row = ROWS[name](args)
        rows.append(row)
        print(f"| {row.fault} | {row.how} | {row.expected} | {row.finished} | {row.lost} | {row.integrity} | "
              f"{row.redone} | {'; '.join(row.notes)} ({time.monotonic() - t0:.0f}s) |", flush=True)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    return 0 if all(r.lost == 0 and set(r.integrity.split(", then ")) == {"ok"} for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
