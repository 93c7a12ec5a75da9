"""Re-record the guest runs the unit tests replay: boots the default cell and keeps its raw output.

    python tests/record_fixtures.py [--cell bcc-0.26@linux-6.1] [--mode split]

Writes tests/fixtures/recorded/<cell>/ (guest mode; <cell>-split/ in split mode, whose verifier logs
carry no BTF line info) (the guest program's files: status, <case>/result.json,
compile.log, load-*.log) and versions.json. Review the diff by hand before committing: the unit
tests' expected classes are written in tests/test_classify.py, not derived from these files.
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.backends import backend_for  # noqa: E402
from harness.cases import load_cases  # noqa: E402
from harness.matrix import load_matrix  # noqa: E402
from harness.pipeline import run_cell  # noqa: E402

FIXTURE_CASES = ROOT / "tests" / "fixtures" / "cases"
RECORDED = ROOT / "tests" / "fixtures" / "recorded"


def fixture_cases():
    seed = load_cases([ROOT / "cases" / "seed"], ROOT / "cases")
    extra = load_cases([FIXTURE_CASES], FIXTURE_CASES)
    errors = seed.errors + extra.errors
    if errors:
        raise SystemExit("\n".join(map(str, errors)))
    return list(seed.cases) + list(extra.cases)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cell", default=None)
    p.add_argument("--mode", choices=("guest", "split"), default="guest")
    args = p.parse_args()
    cell = load_matrix().select([args.cell] if args.cell else None)[0]
    with tempfile.TemporaryDirectory() as tmp:
        # never from the observation cache: the raw files are what gets recorded
        out = run_cell(cell, fixture_cases(), backend_for(args.mode, cell), Path(tmp), use_cache=False,
                       progress=
                       lambda t, d, n, x="": print(f"{t} {d}/{n} {x}", flush=True))
        if out.problem:
            raise SystemExit(f"the guest run failed: {out.problem}")
        dest = RECORDED / (cell.name + ("-split" if args.mode == "split" else ""))
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(Path(tmp) / "out", dest)
        (dest / "versions.json").write_text(json.dumps(out.versions, indent=1, sort_keys=True) + "\n")
    for r in out.results:
        print(f"{r.label:12} {r.case_id}: {r.message[:120]}")
    print(f"recorded into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
