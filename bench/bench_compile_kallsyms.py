"""Proof and benchmark: a host compile that sees only the kallsyms lines bcc's rewriter looks up
(backends/compile_kallsyms.py) against one that sees the kernel's whole kallsyms.

    python bench/bench_compile_kallsyms.py [CASES...] [--cell NAME ...] [--json out.json]

Defaults: the whole corpus in one cell per rewriter release (bench_shared_headers.CELLS), so every bcc the
matrix uses is covered. Nothing boots. Per cell, the compile step runs twice, with the whole kallsyms and
with the compile's, shared headers on in both. Per case, both must be byte-identical: compile.log (the
rewritten text, clang's diagnostics, bcc's disassembly), compiled or not and bcc's error, and the bundle
(each function's instructions, map fds by rank, and the maps: same_loads.load_key). It prints the cases
that differ, and bcc's compile CPU time summed both ways (the runner's `compile_cpu`).
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_shared_headers import CELLS, compile_cell  # noqa: E402
from harness.backends.same_loads import load_key  # noqa: E402
from harness.cases import load_cases  # noqa: E402
from harness.matrix import load_matrix  # noqa: E402
from harness.shared_clang import ShareHeaders  # noqa: E402


def facts(case_dir: Path) -> dict:
    """What must not change, per case."""
    result = json.loads((case_dir / "result.json").read_text()) if (case_dir / "result.json").exists() else {}
    bundle = case_dir / "bundle.json"
    log = case_dir / "compile.log"
    return {"compile.log": log.read_bytes() if log.exists() else None,
            "compiled": result.get("compiled"), "error": result.get("error"),
            "instructions and maps": load_key(json.loads(bundle.read_text())) if bundle.exists() else None}


def cpu(out: Path) -> float:
    return sum(json.loads(p.read_text()).get("timings", {}).get("compile_cpu", 0.0) for p in out.glob("*/result.json"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", type=Path)
    p.add_argument("--cell", action="append")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    cells = load_matrix().select(args.cell or list(CELLS))
    cases = list(load_cases(args.cases or [ROOT / "cases"], ROOT / "cases").cases)
    report = {"cases": len(cases), "cells": {}}
    with tempfile.TemporaryDirectory(prefix="bench-kallsyms-") as tmp:
        for cell in cells:
            outs = {}
            for variant, full in (("whole", True), ("compile", False)):
                out, seconds, problem = compile_cell(cell, cases, ShareHeaders.ON, Path(tmp) / cell.name / str(full),
                                                     full_kallsyms=full)
                if problem:
                    print(f"{cell.name} ({variant} kallsyms): {problem}", file=sys.stderr)
                outs[variant] = (out, seconds)
            whole, mine = outs["whole"][0], outs["compile"][0]
            names = sorted(d.name for d in whole.iterdir() if d.is_dir())
            differ = []
            for name in names:
                a, b = facts(whole / name), facts(mine / name)
                what = [k for k in a if a[k] != b[k]]
                if what:
                    differ.append(f"{name} ({', '.join(what)})")
            compiled = sum(1 for name in names if facts(mine / name)["compiled"])
            row = {"cases": len(names), "compiled": compiled, "identical": len(names) - len(differ), "differ": differ,
                   "compile_cpu_whole_s": round(cpu(whole), 1), "compile_cpu_compile_s": round(cpu(mine), 1),
                   "step_s": {k: round(v[1], 1) for k, v in outs.items()}}
            report["cells"][cell.name] = row
            print(f"{cell.name}: {row['identical']} of {len(names)} cases byte-identical ({compiled} compile); "
                  f"differ: {differ or 'none'}; bcc's compile CPU {row['compile_cpu_whole_s']:.1f} s -> "
                  f"{row['compile_cpu_compile_s']:.1f} s (ratio {row['compile_cpu_compile_s'] / row['compile_cpu_whole_s']:.2f}); "
                  f"compile step {row['step_s']['whole']:.1f} s -> {row['step_s']['compile']:.1f} s",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
