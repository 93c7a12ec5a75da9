"""Host compiles in shards (backends/compile_shards.py): dealing, the slot bound, merging, failures."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.backends import compile_shards
from harness.backends.base import new_guest_input
from harness.backends.compile_shards import deal, in_shards, shard_count


def test_shards_are_per_core_and_never_tiny():
    assert shard_count(3, cores=2) == 1 and shard_count(8, cores=2) == 2 and shard_count(200, cores=2) == 2
    assert shard_count(9, cores=8) == 2 and shard_count(0, cores=4) == 1
    cases = [{"id": str(i)} for i in range(7)]
    parts = deal(cases, 3)
    assert [[c["id"] for c in p] for p in parts] == [["0", "3", "6"], ["1", "4"], ["2", "5"]]
    assert sorted(c["id"] for p in parts for c in p) == sorted(c["id"] for c in cases)


def _job(tmp_path: Path, n: int) -> Path:
    inp = tmp_path / "in"
    (inp / "cases").mkdir(parents=True)
    (inp / "runner.py").write_text("# the runner rides along in every shard's input\n")
    (inp / "job.json").write_text(json.dumps({"mode": "compile", "cases": [{"id": f"c{i}"} for i in range(n)]}))
    return inp


def fake_runner(work: Path, busy: list, fail_shard: int = -1):
    """A stand-in for run_sandboxed: writes what the runner writes, records how many run at once."""
    lock = threading.Lock()

    def run(inp: Path, name: str, finished, claims):
        assert (inp / "runner.py").exists() and claims.is_dir()
        with lock:
            busy.append(+1)
        out = work / f"{name}-out"
        out.mkdir(parents=True)
        (out / "guest.json").write_text("{}")
        cases = json.loads((inp / "job.json").read_text())["cases"]
        for n, case in enumerate(cases, 1):
            if name.endswith(f"-{fail_shard}") and n == 2:
                raise OSError("the sandbox went away")
            (out / case["id"]).mkdir()
            (out / case["id"] / "result.json").write_text(json.dumps({"id": case["id"]}))
            with open(out / "status", "a") as f:
                f.write(f"{case['id']}:exit-0:0.1\n")
            finished(n)
            time.sleep(0.02)
        with lock:
            busy.append(-1)
        return out, ""
    return run


def test_shards_run_at_most_one_per_slot_and_merge_into_one_output(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_shards, "SLOTS", threading.BoundedSemaphore(2))
    monkeypatch.setattr(compile_shards.os, "cpu_count", lambda: 2)
    busy, heard = [], []
    out, problem = in_shards(_job(tmp_path, 10), tmp_path, "compile", fake_runner(tmp_path, busy),
                             heard.append)
    assert problem == "" and out == tmp_path / "compile-out"
    assert sorted(p.name for p in out.iterdir()) == sorted([f"c{i}" for i in range(10)] + ["guest.json", "status"])
    assert sorted(line.split(":")[0] for line in (out / "status").read_text().splitlines()) == \
        sorted(f"c{i}" for i in range(10))
    running = [sum(busy[:i + 1]) for i in range(len(busy))]
    assert max(running) == 2            # both cores busy, never more than the slots
    assert heard[-1] == 10 and heard == sorted(heard)
    assert not (tmp_path / "compile-0-out").exists()


def test_a_crashed_shard_costs_only_its_own_cases(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_shards, "SLOTS", threading.BoundedSemaphore(2))
    monkeypatch.setattr(compile_shards.os, "cpu_count", lambda: 2)
    out, problem = in_shards(_job(tmp_path, 8), tmp_path, "compile", fake_runner(tmp_path, [], fail_shard=1),
                             lambda n: None)
    assert "compile shard 1 crashed" in problem and "the sandbox went away" in problem
    done = {line.split(":")[0] for line in (out / "status").read_text().splitlines()}
    assert {"c0", "c2", "c4", "c6"} <= done and "c3" not in done     # shard 1 got c1, c3, c5, c7


def test_few_cases_stay_in_one_sandbox(tmp_path):
    calls = []

    def run(inp, name, finished, claims):
        calls.append((name, claims))
        return tmp_path / f"{name}-out", ""
    in_shards(_job(tmp_path, 3), tmp_path, "compile", run)
    assert calls == [("compile", None)]      # nobody to share claims with


def test_the_runtime_modes_programs_do_not_wait_for_other_cells_case_shards(tmp_path, monkeypatch):
    """A cell's oracle boot waits on its probe and twin: with every case slot held by another cell's
    shard, they still compile (in slots of their own)."""
    monkeypatch.setattr(compile_shards, "SLOTS", threading.BoundedSemaphore(1))
    monkeypatch.setattr(compile_shards, "PROGRAM_SLOTS", threading.BoundedSemaphore(1))
    compile_shards.SLOTS.acquire()          # another cell's long shard
    try:
        ran = []
        programs = threading.Thread(target=in_shards, daemon=True, args=(
            _job(tmp_path / "a", 3), tmp_path, "compile", lambda inp, name, finished, claims: ran.append(name) or
            (tmp_path / "o", "")), kwargs={"slots": compile_shards.PROGRAM_SLOTS})
        programs.start()
        programs.join(5)
        assert ran == ["compile"] and not programs.is_alive()
        waited = threading.Thread(target=in_shards, daemon=True,
                                  args=(_job(tmp_path / "b", 3), tmp_path, "c2", lambda *a: ran.append("c2") or (tmp_path, "")))
        waited.start()
        waited.join(0.3)
        assert ran == ["compile"] and waited.is_alive()      # a case shard still waits for a case slot
    finally:
        compile_shards.SLOTS.release()
    waited.join(5)
    assert ran == ["compile", "c2"]


def _real_job(tmp_path: Path, n: int) -> Path:
    """A compile job for the real guest program: with no bcc on the host, each case's child reports
    "import bcc failed" at once, which is all the claiming needs."""
    inp = new_guest_input(tmp_path / "in")
    (inp / "cases").mkdir()
    cases = []
    for i in range(n):
        (inp / "cases" / f"c{i}.c").write_text("int x;\n")
        cases.append({"id": f"c{i}", "file": f"cases/c{i}.c", "cflags": []})
    (inp / "job.json").write_text(json.dumps({"mode": "compile", "cases": cases, "case_timeout": 60}))
    return inp


def real_runner(work: Path, order: list):
    """The guest program itself (guest/runner.py), on the host without a sandbox: the claims dir is
    where the job says once the sandbox's path is swapped for the host's."""
    def run(inp: Path, name: str, finished, claims):
        job = json.loads((inp / "job.json").read_text())
        assert job["claims"] == "/run/harness/claims"
        (inp / "job.json").write_text(json.dumps(dict(job, claims=str(claims))))
        out = work / f"{name}-out"
        out.mkdir(parents=True)
        order.append(name)
        subprocess.run([sys.executable, str(inp / "guest" / "runner.py"), str(inp), str(out)], check=True,
                       capture_output=True)
        return out, ""
    return run


def _status_ids(path: Path) -> list:
    return [line.split(":")[0] for line in path.read_text().splitlines()] if path.exists() else []


def test_a_shard_that_is_done_takes_the_cases_of_a_shard_still_waiting(tmp_path, monkeypatch):
    """One slot: whichever shard runs first finds its sibling's cases unclaimed and compiles them all,
    its own first and then the sibling's from the end; the sibling then finds nothing left."""
    monkeypatch.setattr(compile_shards, "SLOTS", threading.BoundedSemaphore(1))
    monkeypatch.setattr(compile_shards.os, "cpu_count", lambda: 2)
    outs, order = {}, []
    runner = real_runner(tmp_path, order)

    def keep(inp, name, finished, claims):
        outs[name] = (inp, *runner(inp, name, finished, claims))
        return outs[name][1:]
    out, problem = in_shards(_real_job(tmp_path, 8), tmp_path, "compile", keep)
    assert problem == ""
    first, second = order
    own = [c["id"] for c in json.loads((outs[first][0] / "job.json").read_text())["cases"]]
    theirs = [c["id"] for c in json.loads((outs[second][0] / "job.json").read_text())["cases"]]
    assert len(own) == len(theirs) == 4
    merged = _status_ids(out / "status")
    assert merged == own + theirs[::-1]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(f"c{i}" for i in range(8))
    assert "import bcc failed" in json.loads((out / "c5" / "result.json").read_text())["error"]
    assert not (tmp_path / "compile-claims").exists()


def test_shards_running_at_once_compile_each_case_exactly_once(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_shards, "SLOTS", threading.BoundedSemaphore(2))
    monkeypatch.setattr(compile_shards.os, "cpu_count", lambda: 2)
    out, problem = in_shards(_real_job(tmp_path, 24), tmp_path, "compile", real_runner(tmp_path, []))
    assert problem == ""
    assert sorted(_status_ids(out / "status")) == sorted(f"c{i}" for i in range(24))
