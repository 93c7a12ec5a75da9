"""The fault table's rows that kill, starve or crowd a real `python -m harness run` process (on the
replay backend): each must lose 0 results and leave a history that passes integrity_check, and the
next run must redo only what is missing. bench/faults.py prints the whole table."""

import os
import random
import re
import signal

import pytest

from bench import faults


def assert_nothing_lost(row):
    print(row)
    assert row.lost == 0, row
    assert set(row.integrity.split(", then ")) == {"ok"}, row
    assert "= missing" in row.redone, row
    assert not [n for n in row.notes if "differs" in n], row


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_harness_killed_at_random_instants_loses_nothing(sig):
    row = faults.killed(sig.name, sig, 3, random.Random(1))
    assert_nothing_lost(row)
    assert row.finished < row.expected       # the kills landed before the end, at least once


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs in a private mount namespace needs root")
def test_a_full_disk_under_the_history_loses_nothing():
    row = faults.disk_full()
    assert_nothing_lost(row)
    fit, of = map(int, re.search(r"(\d+) of (\d+) results fit", " ".join(row.notes)).groups())
    assert fit < of == row.finished, f"the history never filled up: {row.notes}"


def test_two_runs_and_a_report_at_once_lose_nothing():
    row = faults.concurrent()
    assert_nothing_lost(row)
    assert ", 0 failed" in row.notes[0]


@pytest.mark.vm
def test_a_real_compile_sandbox_killed_mid_batch_loses_nothing():
    row = faults.sandbox_killed_for_real()
    assert_nothing_lost(row)
    assert 0 < row.finished < row.expected, row
