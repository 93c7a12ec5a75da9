"""The SQLite history: recording, import, regressions and fixes, bad files, concurrent writers."""

import sqlite3
import threading
from dataclasses import replace

import pytest

from harness.classify import classify
from harness.history import History, HistoryError, record_rundir
from harness.outcome import Outcome
from harness.store import RunDir

CELL = "bcc-0.26@linux-6.1"
CASES = ["cases/seed/count_sched.c", "cases/seed/sock_in_map.c", "tests/fixtures/cases/fp_field_taint.c"]


def make_run(tmp_path, recorded, change=None, name="run"):
    """A run directory from recorded guest observations; `change(case) -> case` alters one case."""
    run = RunDir.create(["test"], mode="guest", root=tmp_path / name)
    cases, results, observations = [], [], []
    for path in CASES:
        case, obs, versions = recorded(path)
        if change:
            case = change(case)
        cases.append(case)
        observations.append(obs)
        results.append(classify(case, obs, versions))
    run.record_cases(cases)
    run.record_observations(CELL, observations)
    run.record_results(results)
    return run, results


def test_record_and_read_back(tmp_path, recorded):
    run, results = make_run(tmp_path, recorded)
    h = History(tmp_path / "h.db")
    assert record_rundir(h, run.path) == 3
    assert record_rundir(h, run.path) == 0            # idempotent import
    rows = h.rows(h.resolve_run("latest"))
    assert sorted((r.case_id, r.outcome.label) for r in rows) == sorted((r.case_id, r.label) for r in results)
    row = next(r for r in rows if r.case_id == "seed/count_sched")
    assert "prev->pid" in h.artifact(row.artifacts["case"])
    assert "bpf_probe_read(&_val" in h.artifact(row.artifacts["rewritten"])
    assert row.functions == [{"name": "count_sched", "loaded": True, "insns": 14, "probe_reads": 1}]
    assert row.packages and '"bcc": "0.26.0"' in row.packages


def test_a_run_recorded_cell_by_cell_is_read_from_where_the_history_left_off(tmp_path, recorded):
    """to_history after each cell reads only the new bytes of results.jsonl; a history made anew, which
    holds none of the run, reads it all again."""
    run, results = make_run(tmp_path, recorded)
    first = History(tmp_path / "h.db")
    size = run.results_size()
    assert record_rundir(first, run.path) == 3
    run.mark_recorded(first.path, size)
    run.record_results([replace(r, cell="bcc-0.31@linux-6.12") for r in results[:2]])
    assert record_rundir(first, run.path, run.recorded_size(first.path)) == 2   # only the new cell
    assert len(first.rows()) == 5 and len(first.db.execute("SELECT * FROM artifacts").fetchall()) > 0
    other = History(tmp_path / "other.db")         # recorded.json names h.db only: other starts from 0
    assert record_rundir(other, run.path, run.recorded_size(other.path)) == 5
    fresh = History(tmp_path / "fresh.db")         # a stale offset for a history without the run: all of it
    assert record_rundir(fresh, run.path, size) == 5


def test_changed_case_regresses_and_the_diff_names_only_it(tmp_path, recorded):
    h = History(tmp_path / "h.db")
    first, _ = make_run(tmp_path, recorded, name="a")
    record_rundir(h, first.path)

    def drop_expectation(case):     # count_sched without its expect-rewrite: the rewrite becomes extra
        if case.id != "seed/count_sched":
            return case
        return replace(case, sites=(), text=case.text.replace("  // expect-rewrite{{prev->pid}}", ""))
    second, _ = make_run(tmp_path, recorded, change=drop_expectation, name="b")
    record_rundir(h, second.path)
    a, b = h.resolve_run("previous"), h.resolve_run("latest")
    changes = h.changes(b, against=a)
    assert [(c.case_id, c.cell, c.kind, c.before, c.after, c.cause) for c in changes] == [
        ("seed/count_sched", CELL, "regression", Outcome.PASS, Outcome.FP_EXTRA, "case changed")]
    assert h.changes(b) == changes          # against the most recent earlier run


def test_flip_without_any_change_is_flaky(tmp_path, recorded):
    h = History(tmp_path / "h.db")
    first, results = make_run(tmp_path, recorded, name="a")
    record_rundir(h, first.path)
    second = RunDir.create(["test"], root=tmp_path / "b")
    second.record_cases([recorded(p)[0] for p in CASES])
    flipped = [replace(r, outcome=Outcome.FN_VERIFIER) if r.case_id == "seed/sock_in_map" else r for r in results]
    second.record_results(flipped)
    record_rundir(h, second.path)
    (change,) = h.changes(h.resolve_run("latest"))
    assert (change.case_id, change.kind, change.cause) == ("seed/sock_in_map", "regression", "flaky (nothing changed)")


def test_harness_trouble_is_neither_regression_nor_fix(tmp_path, recorded):
    h = History(tmp_path / "h.db")
    first, results = make_run(tmp_path, recorded, name="a")
    record_rundir(h, first.path)
    second = RunDir.create(["test"], root=tmp_path / "b")
    second.record_cases([recorded(p)[0] for p in CASES])
    second.record_results([replace(r, outcome=Outcome.HARNESS) for r in results])
    record_rundir(h, second.path)
    assert h.changes(h.resolve_run("latest")) == []


def test_foreign_and_corrupt_files_get_a_clear_error(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(HistoryError, match="not a harness history database"):
        History(junk)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE accounts(id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(HistoryError, match="something else"):
        History(other)
    assert sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall() == [("accounts",)]


def test_two_writers_at_once(tmp_path, recorded):
    runs = [make_run(tmp_path, recorded, name=f"w{i}")[0] for i in range(4)]
    errors = []

    def write(run):
        try:
            h = History(tmp_path / "h.db")
            record_rundir(h, run.path)
            h.close()
        except Exception as e:   # pragma: no cover - the assertion below reports it
            errors.append(e)
    threads = [threading.Thread(target=write, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(History(tmp_path / "h.db").rows()) == 12


def test_reports_render_from_history(tmp_path, recorded):
    from harness.report import exports, html
    run, _ = make_run(tmp_path, recorded)
    h = History(tmp_path / "h.db")
    record_rundir(h, run.path)
    run_id = h.resolve_run("latest")
    page = html.render(h, run_id)
    assert page.startswith("<!DOCTYPE html>") and "http" not in page.split("<body>")[0]
    assert "<svg" in page and "FP-EXTRA" in page
    assert '<mark class="extra">*b.p</mark>' in page          # the extra site, highlighted in the case
    rows = h.rows(run_id)
    assert 'type="FP-EXTRA"' in exports.junit(rows)
    csv_text = exports.programs_csv(rows)
    assert f"{CELL},seed/count_sched,count_sched,loaded,PASS,14,1," in csv_text
    assert '"class": "FP-EXTRA"' in exports.jsonl(rows)
