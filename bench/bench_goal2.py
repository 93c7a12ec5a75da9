"""Benchmark: issue 16's goal 2 (shared headers at most 0.5x bcc alone's floor) in a way the machine's drift
cannot move.

    python bench/bench_goal2.py [CASES...] [--cell NAME|all ...] [--per N] [--json out.json]

This machine's speed moves by up to 76% within two hours on identical work (session 11), so one whole
matrix with shared headers and one without, an hour apart, can show 0.39x or 0.58x. Here the matrix is cut
into groups of --per cells (default 2), and each group is run twice back to back by bench_matrix.py:
shared headers (`run`'s default), and bcc alone (`--share-headers off --whole-kallsyms`). The order
alternates from group to group (shared first, then alone first), so a steady drift favours neither mode.
Each pair is minutes apart, not an hour.

It prints, per group and in total:
- shared headers' wall time, and bcc alone's floor (bench_matrix's floor: compile + load over the cores);
- the ratio of the two (goal 2: at most 0.5), per group and as sum / sum;
- the same in CPU time, and the pair's gap in minutes;
- fidelity: whether the two modes gave the same results, case by case (class, message, sites, verifier
  category and line, probe reads, instructions, oracle note).

The shared walls are summed over groups that ran one after another, so cells of different groups never
overlap as they do in one whole-matrix run: the total is an upper bound of a whole run's wall time.
`--oracle` is always on, as in `tox -e kernels`.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.matrix import load_matrix  # noqa: E402

MODES = {"shared": [], "alone": ["--share-headers", "off", "--whole-kallsyms"]}
# what must be the same case by case in both modes (results.jsonl's fields)
SAME = ("outcome", "raw_outcome", "message", "missing", "extra", "actual_sites", "verifier_category", "log_line",
        "probe_reads", "insns", "oracle")


def run_mode(mode: str, cells, cases, out: Path) -> dict:
    argv = [sys.executable, str(ROOT / "bench" / "bench_matrix.py"), *map(str, cases), "--oracle",
            "--json", str(out), *MODES[mode]]
    for cell in cells:
        argv += ["--cell", cell]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def results(row: dict) -> dict:
    path = Path(row["runs_dir"]) / "latest" / "results.jsonl"
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {(r["cell"], r["case_id"]): r for r in rows}


def differences(a: dict, b: dict) -> list:
    """(cell, case, field) where the two modes' results differ; a case only one has counts too."""
    found = [(*key, "only in one mode") for key in sorted(a.keys() ^ b.keys())]
    for key in sorted(a.keys() & b.keys()):
        found += [(*key, f) for f in SAME if a[key].get(f) != b[key].get(f)]
    return found


def cpu_floor(row: dict) -> float:
    return (row["sandbox_cpu_s"] + row["load_s"]) / row["cores"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", type=Path)
    p.add_argument("--cell", action="append", help="a cell, or 'all' (default: all)")
    p.add_argument("--per", type=int, default=2, help="cells per group (default 2)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    cells = [c.name for c in load_matrix().select(args.cell or ["all"]) if c.backend == "qemu"]
    groups = [cells[i:i + args.per] for i in range(0, len(cells), args.per)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-goal2-"))
    rows, t0 = [], time.monotonic()
    print(f"{len(cells)} cells in {len(groups)} groups; each group shared and alone back to back, order "
          f"alternating; oracle on; work in {tmp}", flush=True)
    print(f"{'group':<44} {'first':>6} {'shared wall':>11} {'alone floor':>11} {'ratio':>5} {'CPU ratio':>9} "
          f"{'gap':>5} fidelity", flush=True)
    for i, group in enumerate(groups):
        order = ("shared", "alone") if i % 2 == 0 else ("alone", "shared")
        pair = {}
        for mode in order:
            pair[mode] = run_mode(mode, group, args.cases, tmp / f"{i}-{mode}.json")
            pair[mode]["ended"] = time.monotonic()
        diff = differences(results(pair["shared"]), results(pair["alone"]))
        shared, alone = pair["shared"], pair["alone"]
        gap = abs(pair[order[1]]["ended"] - pair[order[0]]["ended"]) / 60
        row = {"cells": group, "first": order[0], "shared": shared, "alone": alone, "differences": diff,
               "gap_min": round(gap, 1)}
        rows.append(row)
        print(f"{' '.join(group):<44} {order[0]:>6} {shared['wall_s']:>9.1f} s {alone['floor_s']:>9.1f} s "
              f"{shared['wall_s'] / alone['floor_s']:>5.2f} {shared['wall_s'] / cpu_floor(alone):>9.2f} "
              f"{gap:>3.0f} m {'same ' + str(shared['results']) if not diff else f'{len(diff)} differ'}",
              flush=True)
    wall = sum(r["shared"]["wall_s"] for r in rows)
    floor = sum(r["alone"]["floor_s"] for r in rows)
    cpu = sum(cpu_floor(r["alone"]) for r in rows)
    shared_floor = sum(r["shared"]["floor_s"] for r in rows)
    ratios = [r["shared"]["wall_s"] / r["alone"]["floor_s"] for r in rows]
    print(f"total: shared headers' wall {wall:.1f} s (its own floor {shared_floor:.1f} s) | bcc alone's floor "
          f"{floor:.1f} s (in CPU time {cpu:.1f} s) | ratio {wall / floor:.2f} (goal 2: at most 0.50; in CPU "
          f"time {wall / cpu:.2f}) | groups from {min(ratios):.2f} to {max(ratios):.2f} | "
          f"{(time.monotonic() - t0) / 60:.0f} min in all")
    diffs = [d for r in rows for d in r["differences"]]
    print(f"fidelity: {sum(r['shared']['results'] for r in rows)} results per mode; "
          + (f"{len(diffs)} differ:" if diffs else "the same in both modes, case by case"))
    for cell, case, field in diffs[:40]:
        print(f"  {cell} {case}: {field}")
    if args.json:
        args.json.write_text(json.dumps({"groups": rows, "wall_s": wall, "alone_floor_s": floor,
                                         "alone_cpu_floor_s": cpu, "ratio": wall / floor}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
