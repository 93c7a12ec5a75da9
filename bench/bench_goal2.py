"""Benchmark: issue 16's goal 2 (shared headers at most 0.5x bcc alone's floor) in a way the machine's drift
cannot move.

    python bench/bench_goal2.py [CASES...] [--cell NAME|all ...] [--per N] [--whole m.json] [--json out.json]
    python bench/bench_goal2.py --again /tmp/bench-goal2-XXXX [--whole m.json]     # its figures again
    python bench/bench_goal2.py --cell A --cell B ... --also /tmp/bench-goal2-XXXX  # some groups again

This machine's speed moves by up to 76% within two hours on identical work (session 11), so one whole
matrix with shared headers and one without, an hour apart, can show 0.39x or 0.58x. Here the matrix is cut
into groups of --per cells (default 2), and each group is run twice back to back by bench_matrix.py:
shared headers (`run`'s default), and bcc alone (`--share-headers off --whole-kallsyms`). The order
alternates from group to group (shared first, then alone first), so a steady drift favours neither mode.
Each pair is minutes apart, not an hour. `--oracle` is always on, as in `tox -e kernels`.

It prints, per group (columns) and in total:
- ratio: shared headers' wall time over bcc alone's floor (bench_matrix's floor: bcc's compile and the
  kernel's load over the cores). Summed over the groups, an upper bound of goal 2's ratio: the groups
  ran one after another, each with its own tail (the last loading boot, the oracle's chain), where a
  whole run overlaps one cell's tail with other cells' compiles;
- work: shared headers' floor over bcc alone's, and the same in CPU time (CPU): what sharing saves,
  measured pair by pair, so drift cannot move it;
- with --whole (bench_matrix.py's --json of a whole-matrix shared run), that run's wall over its own
  floor, in CPU time and in the runner's timings, ratios of one run's figures that drift moves little;
  times the pairs' work ratio in the same unit, it is the estimate of goal 2's ratio for a whole run;
- gap: minutes between the pair's starts; fidelity: whether the two modes gave the same results, case by
  case (class, message, sites, verifier category and line, probe reads, instructions, oracle note).
--also DIR adds to the totals the groups of an earlier run that this one did not run (marked "earlier";
given again, a still earlier run's groups that neither has),
so that a change measured on some groups is set against the whole matrix: each pair is still measured
back to back, only not all pairs in one sitting.
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


def minutes_apart(a: dict, b: dict) -> float:
    """Minutes between two runs' starts (bench_matrix's "started", HH:MM:SS; a pair never spans midnight
    by more than a day)."""
    h = [sum(int(x) * m for x, m in zip(r["started"].split(":"), (3600, 60, 1))) for r in (a, b)]
    return abs(h[1] - h[0]) % 86400 / 60


def run_pairs(groups, cases, tmp: Path) -> list:
    for i, group in enumerate(groups):
        for mode in (("shared", "alone") if i % 2 == 0 else ("alone", "shared")):
            run_mode(mode, group, cases, tmp / f"{i}-{mode}.json")
        yield read_pair(tmp, i)


def read_pair(tmp: Path, i: int) -> dict:
    shared, alone = (json.loads((tmp / f"{i}-{mode}.json").read_text()) for mode in ("shared", "alone"))
    first = "shared" if shared["started"] <= alone["started"] else "alone"
    return {"first": first, "shared": shared, "alone": alone, "gap_min": round(minutes_apart(shared, alone), 1),
            "differences": differences(results(shared), results(alone))}


def show_pair(group, pair: dict) -> None:
    shared, alone, diff = pair["shared"], pair["alone"], pair["differences"]
    print(f"{' '.join(group):<44} {pair['first']:>6} {shared['wall_s']:>9.1f} s {alone['floor_s']:>9.1f} s "
          f"{shared['wall_s'] / alone['floor_s']:>5.2f} {shared['floor_s'] / alone['floor_s']:>5.2f} "
          f"{cpu_floor(shared) / cpu_floor(alone):>5.2f} {pair['gap_min']:>3.0f} m "
          + (f"same {shared['results']}" if not diff else f"{len(diff)} differ"), flush=True)


def totals(rows: list, whole: dict) -> dict:
    wall = sum(r["shared"]["wall_s"] for r in rows)
    floor = {m: sum(r[m]["floor_s"] for r in rows) for m in MODES}
    cpu = {m: sum(cpu_floor(r[m]) for r in rows) for m in MODES}
    out = {"shared_wall_s": wall, "floor_s": floor, "cpu_floor_s": cpu, "bound": wall / floor["alone"],
           "work": floor["shared"] / floor["alone"], "cpu_work": cpu["shared"] / cpu["alone"]}
    print(f"upper bound: shared headers' wall, summed over groups, {wall:.1f} s against bcc alone's floor "
          f"{floor['alone']:.1f} s: {out['bound']:.2f} (groups run one after another, each with its own tail: "
          f"a whole run overlaps them)")
    print(f"work, pair by pair: shared headers' floor {floor['shared']:.1f} s against bcc alone's "
          f"{floor['alone']:.1f} s: {out['work']:.2f}; in CPU time {cpu['shared']:.1f} s against "
          f"{cpu['alone']:.1f} s: {out['cpu_work']:.2f}")
    if whole:
        # the same reading in both units: the pairs' work ratio times the whole run's wall over its own floor
        over = whole["wall_s"] / cpu_floor(whole)
        over_floor = whole["wall_s"] / whole["floor_s"]
        out.update(whole_over_cpu_floor=over, estimate=out["cpu_work"] * over,
                   whole_over_floor=over_floor, estimate_floors=out["work"] * over_floor)
        print(f"a whole matrix with shared headers ({whole['started']}, {whole['results']} results) took "
              f"{whole['wall_s']:.1f} s, {over:.2f}x its own floor in CPU time and {over_floor:.2f}x in the "
              f"runner's timings; so a whole run takes {out['cpu_work']:.2f} x {over:.2f} = {out['estimate']:.2f}x "
              f"bcc alone's floor in CPU time, {out['work']:.2f} x {over_floor:.2f} = {out['estimate_floors']:.2f}x "
              f"in the runner's timings (goal 2: at most 0.50)")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", type=Path)
    p.add_argument("--cell", action="append", help="a cell, or 'all' (default: all)")
    p.add_argument("--per", type=int, default=2, help="cells per group (default 2)")
    p.add_argument("--whole", type=Path, help="bench_matrix.py's --json of a whole shared run: its wall over "
                                              "its CPU floor turns the pairs' work ratio into a whole run's")
    p.add_argument("--again", type=Path, metavar="DIR", help="print the figures of an earlier run's work dir")
    p.add_argument("--also", type=Path, metavar="DIR", action="append", default=[],
                   help="add the groups of an earlier run this one lacks (again: an earlier one's after it)")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    cells = [c.name for c in load_matrix().select(args.cell or ["all"]) if c.backend == "qemu"]
    groups = [cells[i:i + args.per] for i in range(0, len(cells), args.per)]
    tmp = args.again or Path(tempfile.mkdtemp(prefix="bench-goal2-"))
    if args.again:      # the groups that run had, whatever --cell says now
        groups = json.loads((tmp / "groups.json").read_text())
    else:
        (tmp / "groups.json").write_text(json.dumps(groups))
    t0 = time.monotonic()
    print(f"{sum(map(len, groups))} cells in {len(groups)} groups; each group shared and alone back to back, order "
          f"alternating; oracle on; work in {tmp}", flush=True)
    print(f"{'group':<44} {'first':>6} {'shared wall':>11} {'alone floor':>11} {'ratio':>5} {'work':>5} "
          f"{'CPU':>5} {'gap':>5} fidelity", flush=True)
    pairs = (read_pair(tmp, i) for i in range(len(groups))) if args.again else run_pairs(groups, args.cases, tmp)
    rows = []
    for group, pair in zip(groups, pairs):
        show_pair(group, pair)
        rows.append(dict(pair, cells=group))
    for also in args.also:      # the first run holding a group gives it
        earlier = json.loads((also / "groups.json").read_text())
        for i, group in enumerate(earlier):
            if group not in [row["cells"] for row in rows]:
                pair = read_pair(also, i)
                show_pair(group + ["(earlier)"], pair)
                rows.append(dict(pair, cells=group, earlier=str(also)))
    whole = json.loads(args.whole.read_text()) if args.whole else None
    out = totals(rows, whole)
    diffs = [d for r in rows for d in r["differences"]]
    print(f"fidelity: {sum(r['shared']['results'] for r in rows)} results per mode; "
          + (f"{len(diffs)} fields differ:" if diffs else "the same in both modes, case by case"))
    for cell, case, field in diffs[:40]:
        print(f"  {cell} {case}: {field}")
    print(f"{(time.monotonic() - t0) / 60:.0f} min")
    if args.json:
        args.json.write_text(json.dumps({"groups": rows, **out}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
