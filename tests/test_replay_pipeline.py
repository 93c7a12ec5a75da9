"""The pipeline on the replay backend (guest outputs recorded from real runs, tests/record_fixtures.py):
run_cell, run_matrix, the oracle and runtime stages, the summary and the exit codes, and what each
injected fault does to them: the hit cases become HARNESS, the others keep their recorded class."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import pipeline
from harness.backends.replay import Faults, ReplayBackend, installed
from harness.cases import load_cases
from harness.commands import exit_code
from harness.interrupt import reset
from harness.matrix import load_matrix
from harness.outcome import Outcome
from harness.store import RunDir

ROOT = Path(__file__).resolve().parent.parent
CELL = "bcc-0.26@linux-6.1"
RECORDED_CLASSES = {      # the classes tests/test_classify.py gives the same recordings
    "seed/count_sched": Outcome.PASS, "seed/sock_in_map": Outcome.PASS, "seed/sock_through_u64": Outcome.XFAIL,
    "env_missing_header": Outcome.ENV, "fp_field_taint": Outcome.FP_EXTRA, "fp_increment": Outcome.FP_SYNTAX,
    "nested_chain": Outcome.PASS, "subscript_member_array": Outcome.PASS,
}


@pytest.fixture(autouse=True)
def private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HARNESS_RESULTS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("HARNESS_HISTORY", str(tmp_path / "history.db"))
    reset()
    yield
    reset()


def cases():
    """The recorded cases these tests count on (the recording holds more, for test_classify.py)."""
    seed = load_cases([ROOT / "cases" / "seed"], ROOT / "cases").cases
    fixtures = load_cases([ROOT / "tests" / "fixtures" / "cases"], ROOT / "tests" / "fixtures" / "cases").cases
    return [c for c in list(seed) + list(fixtures) if c.id in RECORDED_CLASSES]


def runtime_cases():
    """The cases tests/fixtures/recorded/*-runtime holds (python tests/record_fixtures.py --runtime)."""
    return list(load_cases([ROOT / "cases" / "oracle" / "comm_subscript.c", ROOT / "cases" / "oracle" / "current_tgid.c",
                            ROOT / "cases" / "runtime" / "kprobe_parent_tgid.c"], ROOT / "cases").cases)


def cell(name=CELL):
    return load_matrix().cell(name)


def run(backend, tmp_path, case_list=None, oracle=False, use_cache=True):
    with installed(backend):
        return pipeline.run_cell(cell(), case_list or cases(), backend, tmp_path / "work", use_cache=use_cache,
                                 oracle=oracle)


def classes(out):
    return {r.case_id: r.outcome for r in out.results}


def test_replayed_run_gets_the_recorded_classes(tmp_path):
    out = run(ReplayBackend(), tmp_path)
    assert classes(out) == RECORDED_CLASSES
    assert out.versions["bcc"] == "0.26.0" and out.problem == ""


def test_the_oracle_and_runtime_stages_judge_the_recorded_values(tmp_path):
    out = run(ReplayBackend(), tmp_path, runtime_cases(), oracle=True)
    by = {r.case_id: r for r in out.results}
    assert by["oracle/current_tgid"].outcome is Outcome.PASS
    assert by["oracle/current_tgid"].oracle.startswith("agrees: 1 site")
    wrong = by["oracle/comm_subscript"]
    assert wrong.outcome is Outcome.XFAIL and wrong.raw_outcome is Outcome.WRONG_READ
    assert "bcc's address is +15 bytes off" in wrong.message
    assert "runtime: parents[0] == $PPID as expected" in by["runtime/kprobe_parent_tgid"].oracle


@pytest.mark.parametrize("stage,hit", [
    ("oracle", {"oracle/current_tgid", "oracle/comm_subscript", "runtime/kprobe_parent_tgid"}),
    ("runtime", {"runtime/kprobe_parent_tgid"}),
])
def test_a_stage_that_raises_makes_harness_of_the_cases_it_touched_only(tmp_path, stage, hit):
    clean = classes(run(ReplayBackend(), tmp_path / "clean", runtime_cases(), oracle=True))
    out = run(ReplayBackend(faults=Faults(raise_in=stage)), tmp_path / "fault", runtime_cases(), oracle=True,
              use_cache=False)       # the clean run cached its proofs: the stage must run again here
    by = {r.case_id: r for r in out.results}
    assert {c for c, r in by.items() if r.outcome is Outcome.HARNESS} == hit
    for case_id in hit:
        assert by[case_id].message == f"the {stage} stage crashed: " \
                                      f"harness.backends.replay.InjectedFault: injected: the {stage} run raised"
        assert "Traceback (most recent call last)" in by[case_id].details
    assert {c: o for c, o in classes(out).items() if c not in hit} == {c: o for c, o in clean.items() if c not in hit}


@pytest.mark.parametrize("faults,hit,words", [
    (Faults(stop_after=2), set(list(RECORDED_CLASSES)[2:]), "the guest wrote no status"),
    (Faults(stop_after=2, stop_status="timeout"), set(list(RECORDED_CLASSES)[2:]), "timeout: the guest did not"),
    (Faults(stop_after=3, stop_status="error"), set(list(RECORDED_CLASSES)[3:]), "the host sandbox exited -9"),
    (Faults(stop_after=0, stop_status="boot-failed"), set(RECORDED_CLASSES), "boot-failed: the guest did not"),
    (Faults(crash_case="seed/sock_in_map"), {"seed/sock_in_map"}, "died with signal 11"),
    (Faults(drop_case="fp_increment"), {"fp_increment"}, "ended with exit-0 without finishing"),
    (Faults(raise_in="run"), set(RECORDED_CLASSES), "InjectedFault: injected: the backend raised"),
])
def test_guest_faults_hit_only_the_cases_they_reach_and_the_rerun_redoes_only_those(tmp_path, faults, hit, words):
    out = run(ReplayBackend(faults=faults), tmp_path)
    got = classes(out)
    assert {c for c, o in got.items() if o is Outcome.HARNESS} == hit
    assert all(words in r.message or words in r.details for r in out.results if r.case_id in hit), out.results
    assert {c: o for c, o in got.items() if c not in hit} == {c: o for c, o in RECORDED_CLASSES.items() if c not in hit}
    again = ReplayBackend()
    assert classes(run(again, tmp_path)) == RECORDED_CLASSES
    assert sorted(again.asked) == sorted(f"{CELL} {c}" for c in hit)


def test_run_matrix_goes_on_when_a_cell_raises_past_every_guard(tmp_path, monkeypatch):
    real_finish = pipeline.finish_cell

    def finish(prep, *args):
        if prep.cell.name == "bcc-0.31@linux-6.1":
            raise MemoryError("injected into one cell")
        return real_finish(prep, *args)
    monkeypatch.setattr(pipeline, "finish_cell", finish)
    cells = load_matrix().select(["bcc-0.26@linux-6.1", "bcc-0.31@linux-6.1", "bcc-0.26@linux-5.10"])
    backend = ReplayBackend()
    run_dir = RunDir.create(["test"], mode="replay")
    with installed(backend):
        results, interrupted = pipeline.run_matrix(cells, cases(), "split", run_dir, lambda *a: None, 2, 900, True)
    assert not interrupted and len(results) == 3 * len(RECORDED_CLASSES)
    broken = [r for r in results if r.cell == "bcc-0.31@linux-6.1"]
    assert {r.outcome for r in broken} == {Outcome.HARNESS}
    assert broken[0].message == "the cell's pipeline crashed: MemoryError: injected into one cell"
    for name in ("bcc-0.26@linux-6.1", "bcc-0.26@linux-5.10"):
        assert {r.case_id: r.outcome for r in results if r.cell == name} == RECORDED_CLASSES
    assert len(run_dir.results()) == len(results)       # every one recorded, the crashed cell's too
    assert exit_code(results) == 2


def test_run_matrix_groups_cells_by_kernel_when_the_backend_does(tmp_path):
    cells = load_matrix().select(["bcc-0.26@linux-6.1", "bcc-0.31@linux-6.1"])
    backend = ReplayBackend(faults=Faults(stop_after=3, stop_status="error"), groups_by_kernel=True)
    with installed(backend):
        results, _ = pipeline.run_matrix(cells, cases(), "split", RunDir.create(["t"]), lambda *a: None, 2, 900, True)
    assert sum(r.outcome is Outcome.HARNESS for r in results) == 2 * (len(RECORDED_CLASSES) - 3)
    assert all("loading" not in r.message for r in results)


def test_the_kernel_group_with_an_oracle_cell_starts_first(tmp_path):
    """Longest first: the oracle's compile and boot come after a group's load, so that group starts
    before the others and their compiles overlap its oracle instead of leaving a tail on one core."""
    cells = load_matrix().select(["bcc-0.26@linux-5.10", "bcc-0.26@linux-6.1"])
    backend = ReplayBackend(groups_by_kernel=True)
    with installed(backend):
        pipeline.run_matrix(cells, cases(), "split", RunDir.create(["t"]), lambda *a: None, 1, 900, False,
                            oracle_cells={"bcc-0.26@linux-6.1"})
    assert backend.asked[0].startswith("bcc-0.26@linux-6.1 ") and backend.asked[-1].startswith("bcc-0.26@linux-5.10 ")


def harness_cli(tmp_path, *args, faults=None, asked=None):
    env = dict(os.environ, COLUMNS="200", PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "harness.backends.replay", "--faults", json.dumps(faults or {})]
    argv += ["--asked", str(asked)] if asked else []
    argv += ["--", "run", "--cell", CELL, *args]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_cli_summary_and_exit_codes(tmp_path):
    clean = harness_cli(tmp_path, "cases/seed")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "2 PASS, 1 XFAIL" in clean.stdout
    findings = harness_cli(tmp_path, "--cases-root", "tests/fixtures/cases", "tests/fixtures/cases/fp_field_taint.c",
                           "tests/fixtures/cases/env_missing_header.c", "tests/fixtures/cases/nested_chain.c")
    assert findings.returncode == 1, findings.stdout + findings.stderr
    assert "FP-EXTRA fp_field_taint @ bcc-0.26@linux-6.1" in findings.stdout
    broken = harness_cli(tmp_path, "--no-cache", "cases/seed", faults={"crash_case": "seed/count_sched"})
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert "HARNESS seed/count_sched @ bcc-0.26@linux-6.1: crash: the bcc process died with signal 11" \
        in broken.stdout


def test_a_torn_results_line_is_skipped_and_later_results_stay_whole(tmp_path):
    run_dir = RunDir.create(["t"], root=tmp_path / "runs")
    out = run(ReplayBackend(), tmp_path)
    run_dir.record_results(list(out.results[:2]))
    with open(run_dir.path / "results.jsonl", "a") as f:
        f.write('{"case_id": "cut sh')            # a writer killed (or a disk full) mid-line
    run_dir.record_results(list(out.results[2:]))
    assert [r.case_id for r in run_dir.results()] == [r.case_id for r in out.results]


def test_ctrl_c_mid_cell_exits_130_keeps_finished_cases_and_the_rerun_does_the_rest(tmp_path):
    env = dict(os.environ, COLUMNS="200", PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "harness.backends.replay", "--faults", json.dumps({"delay": 0.5}),
            "--asked", str(tmp_path / "asked"), "--", "run", "--cell", CELL, "cases/seed"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status = Path(os.environ["HARNESS_RESULTS_DIR"])
    while proc.poll() is None and not list(status.glob(f"*/cells/{CELL}/out/status")):
        time.sleep(0.05)        # the first case is done: Ctrl-C lands in the middle of the cell
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    assert "interrupted: finished results are kept" in output
    kept = RunDir(status / "latest").results()
    assert 1 <= len(kept) < 3 and all(r.outcome is not Outcome.HARNESS for r in kept), kept
    again = harness_cli(tmp_path, "cases/seed", asked=tmp_path / "asked-again")
    assert again.returncode == 0 and "2 PASS, 1 XFAIL" in again.stdout, again.stdout
    rest = {f"{CELL} {c}" for c in list(RECORDED_CLASSES)[:3]} - {f"{CELL} {r.case_id}" for r in kept}
    assert set((tmp_path / "asked-again").read_text().splitlines()) == rest


def test_the_whole_run_has_a_bar_that_counts_every_result(tmp_path):
    """The progress bars (rich adds the time left) include one for the whole run: its total is every
    (case, cell), and it reaches it as cells finish."""
    cells = load_matrix().select(["bcc-0.26@linux-6.1", "bcc-0.26@linux-5.10"])
    seen = []
    with installed(ReplayBackend()):
        results, _ = pipeline.run_matrix(cells, cases(), "split", RunDir.create(["t"]),
                                         lambda task, done, total, detail="": seen.append((task, done, total)),
                                         2, 900, True)
    whole = [(done, total) for task, done, total in seen if task == "whole run"]
    total = 2 * len(cases())
    assert whole[0] == (0, total) and whole[-1] == (len(results), total) == (total, total), whole
    assert [d for d, _ in whole] == sorted(d for d, _ in whole)
