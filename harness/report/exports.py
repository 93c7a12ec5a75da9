"""Machine-readable outputs of one run from the history: JUnit XML, JSON lines, and a per-program CSV
that diffs like veristat's (one row per case x cell x function)."""

import csv
import io
import json
from typing import List
from xml.etree import ElementTree as ET

from ..history import Row


def junit(rows: List[Row]) -> str:
    suites = ET.Element("testsuites")
    by_cell = {}
    for r in rows:
        by_cell.setdefault(r.cell, []).append(r)
    for cell, items in by_cell.items():
        suite = ET.SubElement(suites, "testsuite", name=cell, tests=str(len(items)),
                              failures=str(sum(r.outcome.is_failure and r.outcome.rewriter_bug for r in items)),
                              errors=str(sum(r.outcome.is_failure and not r.outcome.rewriter_bug for r in items)),
                              skipped=str(sum(r.outcome.label in ("UNSUPPORTED", "ENV", "REJECTED", "XFAIL") for r in items)))
        for r in items:
            case = ET.SubElement(suite, "testcase", classname=cell, name=r.case_id)
            ET.SubElement(ET.SubElement(case, "properties"), "property", name="class", value=r.outcome.label)
            text = f"{r.outcome.label}: {r.message}"
            if r.outcome.is_failure:
                tag = "failure" if r.outcome.rewriter_bug else "error"
                ET.SubElement(case, tag, message=text, type=r.outcome.label).text = r.details
            elif r.outcome.label in ("UNSUPPORTED", "ENV", "REJECTED", "XFAIL"):
                ET.SubElement(case, "skipped", message=text)
    return ET.tostring(suites, encoding="unicode")


def jsonl(rows: List[Row]) -> str:
    out = io.StringIO()
    for r in rows:
        out.write(json.dumps({"run": r.run_id, "cell": r.cell, "bcc": r.bcc, "kernel": r.kernel,
                              "case": r.case_id, "class": r.outcome.label,
                              "raw_class": r.raw_outcome.label if r.raw_outcome else None,
                              "message": r.message, "verifier_category": r.verifier_category,
                              "probe_reads": r.probe_reads, "insns": r.insns, "oracle": r.oracle,
                              "missing": r.missing, "extra": r.extra}) + "\n")
    return out.getvalue()


def programs_csv(rows: List[Row]) -> str:
    """One row per program (function): verdict, class, instructions, probe-read calls."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["cell", "case", "function", "verdict", "class", "insns", "probe_reads", "verifier_category"])
    for r in sorted(rows, key=lambda r: (r.cell, r.case_id)):
        for fn in r.functions or [{"name": "", "loaded": None, "insns": "", "probe_reads": ""}]:
            verdict = {True: "loaded", False: "rejected", None: "not loaded"}[fn["loaded"]]
            w.writerow([r.cell, r.case_id, fn["name"], verdict, r.outcome.label, fn["insns"], fn["probe_reads"],
                        r.verifier_category])
    return out.getvalue()
