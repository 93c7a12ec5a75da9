"""Benchmark: guest mode vs split mode on one cell, and the harness's overhead, measured in one run.

    python bench/bench_modes.py [--cell bcc-0.26@linux-6.1] [--modes guest,split] [--json out.json] [CASES...]

Per mode it prints: boot to the guest program, per-case compile time (bcc's own, as the runner timed
BPF()), per-case load time, wall time of the cell, and the overhead ratio = wall time / (sum of bcc's own
compile and load times). Targets (issue 3): overhead ratio <= 1.10 per mode; for the full matrix, wall
time <= 1.15 x (sum of bcc's compile and load times / cores). Nothing is cached (--no-cache semantics).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.backends import backend_for  # noqa: E402
from harness.cases import load_cases  # noqa: E402
from harness.matrix import load_matrix  # noqa: E402
from harness.pipeline import run_cell  # noqa: E402


def measure(cell, cases, mode: str):
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        out = run_cell(cell, cases, backend_for(mode), Path(tmp), case_timeout=900, use_cache=False)
        wall = time.monotonic() - t0
    per_case = []
    for obs in out.observations:
        compile_s = obs.timings.get("compile", 0.0) + obs.timings.get("import", 0.0)
        load_s = sum(f.load_seconds or 0.0 for f in obs.functions)
        per_case.append({"case": obs.case_id, "compile_s": round(compile_s, 3), "load_s": round(load_s, 4)})
    bcc_own = sum(c["compile_s"] + c["load_s"] for c in per_case)
    return {"mode": mode, "cell": cell.name, "wall_s": round(wall, 2),
            "boot_to_init_s": round(out.boot_seconds or 0.0, 2), "bcc_own_s": round(bcc_own, 2),
            "overhead_ratio": round(wall / bcc_own, 3) if bcc_own else None,
            "cases": per_case, "classes": {r.case_id: r.label for r in out.results}}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("cases", nargs="*", type=Path)
    p.add_argument("--cell", default=None)
    p.add_argument("--modes", default="guest,split")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    cell = load_matrix().select([args.cell] if args.cell else None)[0]
    cases = list(load_cases(args.cases or [ROOT / "cases" / "seed"], ROOT / "cases").cases)
    # Images and the personality are built before timing starts: they are cached, not per-run work.
    run_cell(cell, cases[:1], backend_for("split"), Path(tempfile.mkdtemp()), use_cache=True)
    rows = [measure(cell, cases, m) for m in args.modes.split(",")]
    print(f"{'mode':6} {'wall s':>8} {'boot s':>7} {'bcc own s':>10} {'overhead':>9}   per-case compile s")
    for r in rows:
        per = " ".join(f"{c['compile_s']:.1f}" for c in r["cases"])
        print(f"{r['mode']:6} {r['wall_s']:8.1f} {r['boot_to_init_s']:7.1f} {r['bcc_own_s']:10.1f} "
              f"{r['overhead_ratio'] or 0:9.2f}   {per}")
    if len(rows) == 2 and rows[1]["wall_s"]:
        print(f"guest/split wall-time ratio: {rows[0]['wall_s'] / rows[1]['wall_s']:.1f}x "
              f"({os.cpu_count()} cores)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
