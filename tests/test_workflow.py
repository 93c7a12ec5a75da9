"""The nightly workflow: well formed, and its job matrix is exactly the matrix file's cells."""

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from harness.matrix import load_matrix

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"


def workflow():
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))      # YAML 1.1 reads the key `on` as true
    return data


def test_workflow_is_well_formed():
    wf = workflow()
    assert set(wf["on"]) == {"schedule", "workflow_dispatch"}
    jobs = wf["jobs"]
    for name, job in jobs.items():
        assert "runs-on" in job and job["steps"], name
        for need in [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", []):
            assert need in jobs, f"{name} needs unknown job {need}"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}: a step needs exactly one of uses/run: {step}"
            for value in map(str, step.values()):
                assert value.count("${{") == value.count("}}"), f"{name}: unbalanced expression in {value}"
    text = WORKFLOW.read_text()
    for ref in re.findall(r"needs\.(\w+)\.outputs\.(\w+)", text):
        assert ref[1] in jobs[ref[0]]["outputs"], ref


def test_job_matrix_comes_from_the_matrix_file():
    jobs = workflow()["jobs"]
    assert jobs["cell"]["strategy"]["matrix"]["cell"] == "${{ fromJSON(needs.matrix.outputs.cells) }}"
    (step,) = [s for s in jobs["matrix"]["steps"] if s.get("id") == "cells"]
    command = re.search(r"\$\((python -m harness [^)]*)\)", step["run"]).group(1)
    out = subprocess.run([sys.executable, *command.split()[1:]], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [c.name for c in load_matrix().all_cells()]
    assert len(json.loads(out.stdout)) == 16


def test_cells_run_the_kernels_env_and_the_merge_fails_on_regressions():
    jobs = workflow()["jobs"]
    runs = "\n".join(s.get("run", "") for s in jobs["cell"]["steps"])
    assert 'tox -e kernels -- --cell "${{ matrix.cell }}"' in runs
    merge = "\n".join(s.get("run", "") for s in jobs["merge"]["steps"])
    assert "python -m harness import --history history.db --fail-on-regression" in merge
    assert "python -m harness report" in merge


def test_upstream_rows_are_built_from_the_clone_the_workflow_makes():
    """The upstream job's cells are the matrix's nightly source rows, cloned where those rows point."""
    jobs = workflow()["jobs"]
    matrix = load_matrix()
    (step,) = [s for s in jobs["upstream-matrix"]["steps"] if s.get("id") == "cells"]
    command = re.search(r"\$\((python -m harness [^)]*)\)", step["run"]).group(1)
    out = subprocess.run([sys.executable, *command.split()[1:]], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [c.name for c in matrix.nightly_source_cells()]
    assert json.loads(out.stdout) and all(c.rewriter.source for c in matrix.nightly_source_cells())
    clones = [s["run"] for s in jobs["upstream-cell"]["steps"] if "git clone" in s.get("run", "")]
    for name in matrix.nightly_sources:
        target = Path(matrix.rewriter(name).source.tree)
        assert any(str(target.relative_to(ROOT.parent)) in c.split()[-1] for c in clones), (name, clones)
    runs = "\n".join(s.get("run", "") for s in jobs["upstream-cell"]["steps"])
    assert 'tox -e kernels -- --cell "${{ matrix.cell }}"' in runs
    assert "upstream-cell" in jobs["merge"]["needs"]
