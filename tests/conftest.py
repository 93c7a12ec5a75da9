import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "fixtures" / "recorded"
FIXTURE_CASES = ROOT / "tests" / "fixtures" / "cases"
DEFAULT_CELL = "bcc-0.26@linux-6.1"


@pytest.fixture
def recorded():
    """(case, observation, versions) of a case recorded by tests/record_fixtures.py."""
    from harness.backends.base import guest_dir_name
    from harness.cases import parse_case
    from harness.observation import guest_status, read_observation

    def load(case_path: str, cell: str = DEFAULT_CELL):
        path = ROOT / case_path
        root = ROOT / "cases" if case_path.startswith("cases/") else FIXTURE_CASES
        case = parse_case(path, root)
        out = RECORDED / cell
        name = guest_dir_name(case)
        verdict = guest_status(out).get(name, (None, 0))[0]
        obs = read_observation(case.id, cell, out / name, verdict)
        versions = json.loads((out / "versions.json").read_text())
        return case, obs, versions
    return load

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def no_leaked_environment():
    """A test that sets HARNESS_* in os.environ itself (not through monkeypatch) and keeps it moves every
    later test's caches: fail that test instead."""
    import os
    before = {k: v for k, v in os.environ.items() if k.startswith("HARNESS_")}
    yield
    after = {k: v for k, v in os.environ.items() if k.startswith("HARNESS_")}
    assert after == before, f"the test left HARNESS_* changed in os.environ: {after} (was {before})"
