"""pytest plugin: every cases/**/*.c becomes one item per selected cell.

All items of a cell share one VM boot: the first item of a cell to run runs every selected item of
that cell (after -k/--lf deselection), and the others read its results. A bad case file becomes a
failing INVALID item that names file and line; the other cases still run.
"""

from pathlib import Path
from typing import Dict, List, Optional

import pytest

from .backends import MODES, backend_for
from .cases import Case, CaseError, parse_case, read_text
from .classify import Result
from .matrix import Cell, load_matrix
from .outcome import Outcome
from .pipeline import run_cell
from .store import RunDir



def cases_root(config) -> Path:
    return Path(config.rootpath) / "cases"


def pytest_addoption(parser):
    group = parser.getgroup("bcc-harness")
    group.addoption("--cell", action="append", default=None,
                    help="cell <rewriter>@<kernel> to run cases in (repeatable; 'all'; default from vms/matrix.toml)")
    group.addoption("--case-timeout", type=int, default=900, help="seconds per case inside the guest")
    group.addoption("--mode", choices=MODES, default="auto", help="guest, split, or auto (split without KVM)")
    group.addoption("--no-cache", action="store_true", help="run cases again even when their results are known")
    group.addoption("--oracle", action="store_true", help="also run the differential value oracle (WRONG-READ)")


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".c" and cases_root(parent.config).resolve() in file_path.resolve().parents:
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CellRunner:
    """Runs each cell once per session, for the items selected in it."""

    def __init__(self, config):
        self.config = config
        self.results: Dict[str, Dict[str, Result]] = {}
        self.run_dir: Optional[RunDir] = None

    def result(self, item: "CaseItem") -> Result:
        if item.cell.name not in self.results:
            self._run(item.cell, item.session)
        return self.results[item.cell.name][item.case.id]

    def _run(self, cell: Cell, session) -> None:
        cases: List[Case] = []
        for it in session.items:
            if isinstance(it, CaseItem) and it.cell.name == cell.name and it.case.id not in {c.id for c in cases}:
                cases.append(it.case)
        if self.run_dir is None:
            self.run_dir = RunDir.create(["pytest"] + list(self.config.invocation_params.args))
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")

        def progress(task, done, total, detail=""):
            if reporter and detail:
                reporter.write_line(f"[{task}] {done}/{total or '?'} {detail}")

        out = run_cell(cell, cases, backend_for(self.config.getoption("mode"), cell), self.run_dir.cell_dir(cell.name),
                       progress, self.config.getoption("case_timeout"), not self.config.getoption("no_cache"),
                       self.config.getoption("oracle"))
        self.run_dir.record_observations(cell.name, list(out.observations))
        self.run_dir.record_results(list(out.results))
        self.results[cell.name] = {r.case_id: r for r in out.results}


def pytest_configure(config):
    config.addinivalue_line("markers", "bcc_cell(name): the matrix cell a case item runs in")
    config._bcc_cells = CellRunner(config)


def _cells(config) -> List[Cell]:
    return load_matrix().select(config.getoption("cell"))


class CaseFile(pytest.File):
    def collect(self):
        cells = _cells(self.config)
        try:
            case = parse_case(self.path, cases_root(self.config), read_text(self.path))
        except CaseError as e:
            for cell in cells:
                yield InvalidItem.from_parent(self, name=cell.name, error=e)
            return
        for cell in cells:
            yield CaseItem.from_parent(self, name=cell.name, case=case, cell=cell)


class CaseFailure(Exception):
    def __init__(self, result: Result):
        super().__init__(result.message)
        self.result = result


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, cell: Cell, **kw):
        super().__init__(**kw)
        self.case, self.cell = case, cell
        self.add_marker(pytest.mark.bcc_cell(cell.name))

    def runtest(self):
        result = self.config._bcc_cells.result(self)
        self.user_properties.append(("class", result.label))
        self.user_properties.append(("message", result.message))
        if result.outcome is Outcome.XFAIL:
            pytest.xfail(result.message)
        if result.outcome in (Outcome.UNSUPPORTED, Outcome.ENV, Outcome.REJECTED):
            pytest.skip(f"{result.label}: {result.message}")
        if result.outcome.is_failure:
            raise CaseFailure(result)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseFailure):
            r = excinfo.value.result
            return f"{r.label} {r.case_id} @ {r.cell}\n{r.message}\n{r.details}".rstrip()
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.case.id} @ {self.cell.name}"


class InvalidItem(pytest.Item):
    def __init__(self, *, error: CaseError, **kw):
        super().__init__(**kw)
        self.error = error

    def runtest(self):
        raise CaseError(self.error.path, self.error.line, self.error.message)

    def repr_failure(self, excinfo):
        return f"INVALID {excinfo.value}"

    def reportinfo(self):
        return self.path, self.error.line - 1, f"INVALID {self.path.name}"
