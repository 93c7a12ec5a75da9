"""Every class of the closed Outcome enum renders through every output: the terminal summary, `show`,
the HTML report, JUnit, CSV and JSON lines. A class some table forgot raised KeyError at the end of a
run (FN-RUNTIME, FP-RUNTIME); messages holding rich markup (`tasks[i]`, `[/]`) vanished or crashed."""

import csv
import io
import json
from xml.etree import ElementTree as ET

from rich.console import Console

from harness.classify import Result
from harness.history import History, record_rundir
from harness.outcome import Outcome, families
from harness.report import exports, html
from harness.report.terminal import print_summary
from harness.show import render_show
from harness.store import RunDir

CELLS = ("bcc-0.26@linux-6.1", "bcc-0.31@linux-6.12")
# Text rich would take for markup: a subscript that looks like a tag, a closing tag, a style name.
TRICKY = "tasks[i]->pid, m[key], [/] and [bold]x"


def every_class_results():
    versions = {"bcc": "0.26.0", "kernel": "6.1.0"}
    out = []
    for cell in CELLS:
        for o in Outcome:
            raw = Outcome.FN_RUNTIME if o is Outcome.XFAIL else None
            out.append(Result(f"group{o.label[:2]}/{o.label.lower()}", cell, o, f"{o.label} because {TRICKY}",
                              details=f"details of {o.label}: [/]\n", raw_outcome=raw, versions=versions,
                              oracle=f"value oracle on {TRICKY}"))
    return out


def render_terminal(results, **kw) -> str:
    buf = io.StringIO()
    print_summary(results, Console(file=buf, width=400, color_system=None), **kw)
    return buf.getvalue()


def test_terminal_summary_shows_every_class_and_keeps_brackets():
    results = every_class_results()
    text = render_terminal(results)
    for o in Outcome:
        assert o.label in text
    failures = [line for line in text.splitlines() if " because " in line]
    assert len(failures) == sum(r.outcome.is_failure or r.outcome is Outcome.XFAIL for r in results)
    assert all(TRICKY in line for line in failures), failures[:2]
    assert "value oracle on tasks[i]->pid, m[key], [/] and [bold]x" in text
    assert "details of FN-RUNTIME: [/]" in text
    # the counts line names every class, twice each (one result per cell)
    assert text.rstrip().splitlines()[-1] == ", ".join(f"2 {o.label}" for o in Outcome)


def test_show_renders_every_class(tmp_path):
    for r in every_class_results()[:len(Outcome)]:
        buf = io.StringIO()
        render_show(Console(file=buf, width=300, color_system=None), None, r, None, tmp_path)
        assert f"{r.label}  {r.message}" in buf.getvalue()
        assert TRICKY in buf.getvalue()


def every_class_history(tmp_path):
    run = RunDir.create(["test"], mode="split", root=tmp_path / "runs")
    results = every_class_results()
    run.record_cases([])
    run.record_results(results)
    h = History(tmp_path / "h.db")
    assert record_rundir(h, run.path) == len(results)
    run_id = h.resolve_run("latest")
    return h, run_id, h.rows(run_id)


def test_html_junit_csv_jsonl_render_every_class(tmp_path):
    h, run_id, rows = every_class_history(tmp_path)
    assert {r.outcome for r in rows} == set(Outcome)

    page = html.render(h, run_id)
    for o in Outcome:
        assert f'style="background:{o.colour}"' in page
        assert f">{o.label}</a></td>" in page
    assert page.count(f"{TRICKY}") == 0                       # escaped, never raw HTML
    assert html.html.escape(TRICKY) in page
    # the FP/FN/WRONG-READ charts count the runtime classes too
    for family, members in families().items():
        assert family in page
    assert Outcome.FN_RUNTIME in families()["FN"] and Outcome.FP_RUNTIME in families()["FP"]

    suites = ET.fromstring(exports.junit(rows))
    cases = suites.findall("./testsuite/testcase")
    assert len(cases) == len(rows)
    for case in cases:
        outcome = Outcome.from_label(case.find("./properties/property").get("value"))
        tags = {child.tag for child in case} - {"properties"}
        want = {"failure"} if outcome.rewriter_bug else {"error"} if outcome.is_failure else \
            {"skipped"} if outcome.skipped else set()
        assert tags == want, (outcome, tags)
    for suite in suites:
        # 8 rewriter classes fail, HARNESS, INVALID and XPASS are errors, ENV, REJECTED, XFAIL and
        # UNSUPPORTED are skipped: counted by hand, so a class added without a JUnit meaning shows here
        assert int(suite.get("failures")) == 8 and int(suite.get("errors")) == 3 and int(suite.get("skipped")) == 4

    table = list(csv.reader(io.StringIO(exports.programs_csv(rows))))
    assert sorted(r[4] for r in table[1:]) == sorted(o.label for o in Outcome for _ in CELLS)

    lines = [json.loads(x) for x in exports.jsonl(rows).splitlines()]
    assert sorted(x["class"] for x in lines) == sorted(o.label for o in Outcome for _ in CELLS)
    assert all(x["message"].endswith(TRICKY) for x in lines)


def test_families_come_from_the_enum():
    """Every rewriter bug belongs to a chart family; nothing else does."""
    assert all(bool(o.family) == o.rewriter_bug for o in Outcome)
    assert sorted(o.label for members in families().values() for o in members) == \
        sorted(o.label for o in Outcome if o.rewriter_bug)
