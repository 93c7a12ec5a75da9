"""End to end, for real: build the images, boot bookworm's kernel in qemu, run bcc 0.26 on the cases.

Slow under TCG (about 2 minutes here); images are cached under the user cache directory.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.vm

BAD_CASE = """// CASE: a case whose annotation names nothing on its line
#include <linux/sched.h>

int bad(struct pt_regs *ctx, struct task_struct *prev)
{
    return prev->pid;  // expect-rewrite{{prev->tgid}}
}
"""


def harness(*args, env=None, timeout=1800):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    bad = tmp_path_factory.mktemp("bad") / "bad_annotation.c"
    bad.write_text(BAD_CASE)
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(results), COLUMNS="200")
    proc = harness("run", "--mode", "guest", "--no-cache", "cases/seed", str(bad), env=env)
    rows = [json.loads(ln) for ln in (results / "latest" / "results.jsonl").read_text().splitlines()]
    return proc, {r["case_id"]: r for r in rows}, env


def test_seed_cases_get_their_classes(seed_run):
    proc, rows, _ = seed_run
    assert rows["seed/count_sched"]["outcome"] == "PASS", proc.stdout
    assert rows["seed/sock_in_map"]["outcome"] == "PASS", proc.stdout
    launder = rows["seed/sock_through_u64"]
    assert launder["outcome"] == "XFAIL" and launder["raw_outcome"] == "FN-VERIFIER"
    assert launder["verifier_category"] == "invalid-mem-access"
    assert launder["missing"] == [[22, "sk->__sk_common.skc_family"]]
    assert launder["versions"]["bcc"] == "0.26.0" and launder["versions"]["kernel"].startswith("6.1.")


def test_bad_case_is_reported_with_file_and_line_and_the_others_still_ran(seed_run):
    proc, rows, _ = seed_run
    bad = rows["bad_annotation"]
    assert bad["outcome"] == "INVALID"
    assert "bad_annotation.c:6: expect-rewrite{{prev->tgid}} names no expression on line 6" in bad["message"]
    assert proc.returncode == 2          # harness-level trouble (an invalid case) is exit 2
    assert "INVALID" in proc.stdout and "XFAIL" in proc.stdout and "PASS" in proc.stdout


def test_sites_mapped_back_and_bytecode_counted(seed_run):
    _, rows, _ = seed_run
    (site,) = rows["seed/count_sched"]["actual_sites"]
    assert (site["text"], site["line"], site["col"]) == ("prev->pid", 7, 12)
    assert rows["seed/count_sched"]["probe_reads"] == 1


def test_show_prints_the_last_run(seed_run):
    _, _, env = seed_run
    proc = harness("show", "seed/count_sched", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "bpf_probe_read(&_val, sizeof(_val), (void *)&prev->pid)" in proc.stdout
    assert "count_sched (kprobe): loaded" in proc.stdout


def test_pytest_plugin_items_share_one_boot(pytester, tmp_path):
    pytester.makeconftest('pytest_plugins = ["harness.pytest_plugin"]\n')
    cases = pytester.mkdir("cases")
    (cases / "count_sched.c").write_text((ROOT / "cases/seed/count_sched.c").read_text())
    (cases / "bad_annotation.c").write_text(BAD_CASE)
    env_path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    pytester._monkeypatch.setenv("PYTHONPATH", env_path)
    pytester._monkeypatch.setenv("HARNESS_RESULTS_DIR", str(tmp_path / "results"))
    result = pytester.runpytest_subprocess("cases", "-v", "-p", "no:cacheprovider", timeout=1200)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*count_sched.c::bcc-0.26@linux-6.1 PASSED*",
                                 "*INVALID*bad_annotation.c:6: expect-rewrite{{prev->tgid}} names no expression*"])


def test_fidelity_guest_and_split_agree_on_the_seed_cases(tmp_path):
    """Both modes, runtime checks included: bcc attaching in the guest vs the guest loader attaching what
    bcc compiled on the host (a socket filter on the veth pair, and the oracle's kprobe pair)."""
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path), COLUMNS="400")
    proc = harness("fidelity", "--no-cache", "cases/seed", "cases/runtime/socket_filter_ipv4.c",
                   "cases/oracle/comm_subscript.c", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 difference(s) in 5 cases" in proc.stdout
    rows = {case: next(ln for ln in proc.stdout.splitlines() if ln.startswith("│") and case in ln)
            for case in ("socket_filter_ipv4", "comm_subscript", "seed/sock_in_map")}     # table rows, not bars
    assert rows["socket_filter_ipv4"].count("runtime: seen[0] >= 3 as expected") == 2, rows
    assert rows["comm_subscript"].count("WRONG-READ at 1 site(s)") == 2, rows
    assert rows["seed/sock_in_map"].count("agrees: 1 site(s)") == 2, rows
    split_obs = list((tmp_path / "latest" / "cells").glob("*-split/observations/*.json"))
    assert len(split_obs) == 5
    launder = json.loads(next(p for p in split_obs if "sock_through_u64" in p.name).read_text())
    rejected = [f for f in launder["functions"] if not f["loaded"]]
    assert [f["name"] for f in rejected] == ["read_family"]
    assert "invalid mem access 'scalar'" in rejected[0]["verifier_log"]


def test_oracle_finds_the_wrong_read_and_passes_the_right_one(tmp_path):
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path), COLUMNS="200")
    proc = harness("run", "--oracle", "--no-cache", "cases/oracle", env=env)
    rows = {json.loads(ln)["case_id"]: json.loads(ln)
            for ln in (tmp_path / "latest" / "results.jsonl").read_text().splitlines()}
    right, wrong = rows["oracle/current_tgid"], rows["oracle/comm_subscript"]
    assert right["outcome"] == "PASS" and right["oracle"].startswith("agrees: 1 site"), proc.stdout
    assert (wrong["raw_outcome"] or wrong["outcome"]) == "WRONG-READ", proc.stdout
    # 'harness-trig'[1] is 'a'; bcc reads 16 bytes further (a whole comm[] away), minus the index
    assert "the original expression holds 61 (97)" in wrong["message"]
    assert "bcc's address is +15 bytes off" in wrong["message"]
    # the address is the proof: bcc's wrong address holds the same zero byte as the right one, still WRONG-READ
    same = rows["oracle/v6_daddr_subscript"]
    assert (same["raw_outcome"] or same["outcome"]) == "WRONG-READ", proc.stdout
    assert "bcc's address is +15 bytes off (the values happen to agree)" in same["message"]
    assert "value oracle coverage" in proc.stdout
    # A rerun with nothing changed takes the observations and the proofs from the cache: no boot at all.
    first = (tmp_path / "latest").resolve()
    again = harness("run", "--oracle", "cases/oracle", env=env)
    second = (tmp_path / "latest").resolve()
    assert second != first and not list(second.rglob("qemu.cmd")), again.stdout
    rerun = {json.loads(ln)["case_id"]: json.loads(ln) for ln in (second / "results.jsonl").read_text().splitlines()}
    assert rerun == rows, again.stdout


def test_an_attach_point_this_kernel_lacks_is_the_environment_and_its_note_is_kept(tmp_path):
    """A kprobe on a function the kernel does not have (a tool written for another kernel, a module not
    loaded) is not harness trouble: the oracle says so, and the rerun takes that from the cache."""
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path), COLUMNS="200")
    args = ("run", "--oracle", "--cases-root", "tests/fixtures/cases", "tests/fixtures/cases/oracle_missing_attach.c")
    proc = harness(*args, "--no-cache", env=env)
    row = json.loads((tmp_path / "latest" / "results.jsonl").read_text())
    assert row["outcome"] == "PASS", proc.stdout + proc.stderr
    assert row["oracle"].startswith("not judged: this kernel has no kprobe harness_fixture_no_such_function ("), row
    assert "harness:" not in row["oracle"]
    again = harness(*args, env=env)
    assert not list((tmp_path / "latest").resolve().rglob("qemu.cmd")), again.stdout


def test_a_changed_case_regresses_in_diff_and_report(tmp_path):
    cases = tmp_path / "cases"
    shutil.copytree(ROOT / "cases" / "seed", cases / "seed")
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path / "runs"), HARNESS_HISTORY=str(tmp_path / "h.db"),
               COLUMNS="200")
    first = harness("run", "--mode", "split", "--cases-root", str(cases), env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    case = cases / "seed" / "count_sched.c"
    case.write_text(case.read_text().replace("  // expect-rewrite{{prev->pid}}", ""))
    second = harness("run", "--mode", "split", "--cases-root", str(cases), env=env)
    assert second.returncode == 1, second.stdout + second.stderr
    diff = harness("diff", "previous", "latest", env=env, timeout=60)
    assert diff.returncode == 1
    assert "1 regression(s), 0 fix(es), 0 other change(s)" in diff.stdout
    assert "seed/count_sched" in diff.stdout and "bcc-0.26@linux-6.1" in diff.stdout
    assert "PASS -> FP-EXTRA" in diff.stdout and "case changed" in diff.stdout
    assert "sock_in_map" not in diff.stdout and "sock_through_u64" not in diff.stdout
    report = harness("report", "--html", str(tmp_path / "r.html"), env=env, timeout=60)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text()
    assert "<td>regression</td><td>seed/count_sched</td><td>bcc-0.26@linux-6.1</td>" in page


def test_killing_a_matrix_run_halfway_keeps_a_readable_history(tmp_path):
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path / "runs"), HARNESS_HISTORY=str(tmp_path / "h.db"),
               COLUMNS="200")
    # Two kernels: split mode loads per kernel, so the cells finish (and are recorded) one after the other.
    argv = [sys.executable, "-m", "harness", "run", "--mode", "split", "-j", "1", "--no-cache",
            "--cell", "bcc-0.26@linux-6.1", "--cell", "bcc-0.26@linux-5.10", "cases/seed"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(1)
        if (tmp_path / "h.db").exists():
            con = sqlite3.connect(tmp_path / "h.db", timeout=30)
            try:
                done = con.execute("SELECT count(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            con.close()
            if done >= 3:      # the first cell is recorded: kill in the middle of the second
                break
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for args in (("report", "--html", str(tmp_path / "r.html")), ("trends",)):
        out = harness(*args, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
    again = harness("run", "--mode", "split", "-j", "1", "--cell", "bcc-0.26@linux-6.1",
                    "--cell", "bcc-0.26@linux-5.10", "cases/seed", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    rows = sqlite3.connect(tmp_path / "h.db").execute(
        "SELECT c.name, count(*) FROM results r JOIN cells c ON c.id = r.cell_id "
        "WHERE r.run_id = (SELECT id FROM runs ORDER BY started DESC LIMIT 1) GROUP BY c.name").fetchall()
    assert dict(rows) == {"bcc-0.26@linux-6.1": 3, "bcc-0.26@linux-5.10": 3}


def test_runtime_checks_on_network_and_tracing_programs(tmp_path):
    env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path), COLUMNS="200")
    cases = ["cases/runtime/tc_ingress_udp_count.c", "cases/runtime/xdp_frame_len.c",
             "cases/runtime/kprobe_parent_tgid.c"]
    proc = harness("run", "--oracle", "--no-cache", "--cell", "bcc-0.26@linux-6.1", *cases, env=env)
    rows = {json.loads(ln)["case_id"]: json.loads(ln)
            for ln in (tmp_path / "latest" / "results.jsonl").read_text().splitlines()}
    held = {"runtime/tc_ingress_udp_count": "runtime: pkts[0] = 3 as expected",
            "runtime/xdp_frame_len": "runtime: lens[0] = 132 as expected",
            "runtime/kprobe_parent_tgid": "runtime: parents[0] == $PPID as expected"}
    for case, note in held.items():
        assert rows[case]["outcome"] == "PASS", proc.stdout
        assert note in rows[case]["oracle"], rows[case]["oracle"]


def test_identical_bundles_load_once_per_kernel_and_get_the_verdicts_a_load_of_their_own_gives(tmp_path):
    """Two rewriters on one kernel emit the same program for these cases: the loading boot loads it once
    and the second cell names the first's load (same_loads.py). The second cell alone, where it loads
    everything itself, gets the same verdicts, errors and verifier messages."""
    cases = ["cases/seed/count_sched.c", "cases/indirection/store_through_ptr_to_ptr.c",
             "cases/known_bugs/pointer_through_u64_local.c"]

    def run(where, *cells):
        env = dict(os.environ, HARNESS_RESULTS_DIR=str(tmp_path / where), COLUMNS="200")
        proc = harness("run", "--mode", "split", "--no-cache", *[a for c in cells for a in ("--cell", c)], *cases,
                       env=env)
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        obs = {}
        for path in (tmp_path / where / "latest" / "cells").glob("*/out/*/result.json"):
            obs[(path.parts[-4], path.parent.name)] = json.loads(path.read_text())
        return obs

    both = run("both", "bcc-0.26@linux-6.12", "bcc-0.31@linux-6.12")
    alone = run("alone", "bcc-0.31@linux-6.12")
    reused = {case: r for (cell, case), r in both.items() if cell == "bcc-0.31@linux-6.12"
              and r["timings"].get("load_reused")}
    assert sorted(reused) == ["indirection__store_through_ptr_to_ptr", "known_bugs__pointer_through_u64_local",
                              "seed__count_sched"], sorted(both)
    for case, r in reused.items():
        mine = alone[("bcc-0.31@linux-6.12", case)]
        assert not mine["timings"].get("load_reused")
        for got, own in zip(r["functions"], mine["functions"]):
            assert got["load_same_as"] == f"bcc-0.26@linux-6.12/{case}"
            assert (got["name"], got["loaded"], got["error"]) == (own["name"], own["loaded"], own["error"])
            logs = [(tmp_path / where / "latest/cells/bcc-0.31@linux-6.12/out" / case / got["log"]).read_text()
                    for where in ("both", "alone")]
            last = [[ln for ln in log.splitlines() if ln.strip()][-2:] if log else [] for log in logs]
            assert last[0] == last[1], (case, last)
    assert not reused["seed__count_sched"]["functions"][0]["error"]
    assert reused["indirection__store_through_ptr_to_ptr"]["functions"][0]["error"].startswith("EACCES")
