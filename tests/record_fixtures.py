"""Re-record the guest runs the unit tests replay: boots the default cell and keeps its raw output.

    python tests/record_fixtures.py [--cell bcc-0.26@linux-6.1] [--mode split]
    python tests/record_fixtures.py --runtime      (split mode, with the oracle and EXPECT-MAP checks)

Writes tests/fixtures/recorded/<cell>/ (guest mode; <cell>-split/ in split mode, whose verifier logs
carry no BTF line info) (the guest program's files: status, <case>/result.json, compile.log,
load-*.log) and versions.json; with --runtime, tests/fixtures/recorded/<cell>-runtime/
holds the same for the oracle and runtime cases plus oracle/ and runtime/ (what those modes wrote),
which harness/backends/replay.py replays. Review the diff by hand before committing: the unit
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
from harness.backends.split import SplitBackend  # noqa: E402
from harness.cases import load_cases  # noqa: E402
from harness.matrix import load_matrix  # noqa: E402
from harness.pipeline import run_cell  # noqa: E402

FIXTURE_CASES = ROOT / "tests" / "fixtures" / "cases"
RECORDED = ROOT / "tests" / "fixtures" / "recorded"
RUNTIME_CASES = [ROOT / "cases" / "oracle", ROOT / "cases" / "runtime" / "kprobe_parent_tgid.c"]


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
    p.add_argument("--runtime", action="store_true", help="record the oracle and runtime modes too (split mode)")
    args = p.parse_args()
    cell = load_matrix().select([args.cell] if args.cell else None)[0]
    if args.runtime:
        cases, backend, dest = list(load_cases(RUNTIME_CASES, ROOT / "cases").cases), SplitBackend(), \
            RECORDED / f"{cell.name}-runtime"
    else:
        cases, backend = fixture_cases(), backend_for(args.mode, cell)
        dest = RECORDED / (cell.name + ("-split" if args.mode == "split" else ""))
    with tempfile.TemporaryDirectory() as tmp:
        # never from the observation cache: the raw files are what gets recorded
        out = run_cell(cell, cases, backend, Path(tmp),
                       lambda t, d, n, x="": print(f"{t} {d}/{n} {x}", flush=True), use_cache=False,
                       oracle=args.runtime)
        if out.problem:
            raise SystemExit(f"the guest run failed: {out.problem}")
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(Path(tmp) / "out", dest)
        for mode in ("oracle", "runtime") if args.runtime else ():
            shutil.copytree(Path(tmp) / mode / "out", dest / mode)
        (dest / "versions.json").write_text(json.dumps(out.versions, indent=1, sort_keys=True) + "\n")
    for r in out.results:
        print(f"{r.label:12} {r.case_id}: {r.message[:120]}")
    print(f"recorded into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
