"""Benchmark: bcc's own compile time with and without shared kernel headers (split mode, compile only).

    python bench/bench_shared_headers.py [CASES...] [--cell NAME ...] [--wall] [--json out.json]

Defaults: the whole corpus (hand-written cases and imported tools; the tools compile in the untrusted
sandbox) in one cell per rewriter release, each on its own suite's kernel, so every clang the matrix
uses is covered. Nothing boots: the compile runs on the host, in the rewriter's sandbox.

One compile per cell with --share-headers=verify, so both variants alternate within one run: each case
that shares a PCH is compiled with it, then at once without it (guest/shared_headers.py). It prints,
per case, bcc's compile time (the runner's `compile` timing) without and with sharing and their ratio;
per cell, the sums (PCH builds, cc1 stubs and include scans are charged to sharing), their ratio and the fidelity count: cases
byte-identical with and without (rewritten text and diagnostics, instructions, maps), and of those the
programs that fail to compile (with a diagnostic clang may typo-correct, whose unshared result is kept
by rule; or another, whose shared result is kept), cases that differ (their unshared result is kept),
cases not shared (an include set of one case, or none).
--wall adds, per cell, the compile step's wall time without sharing and with it (not verified), run
one after the other.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.backends import qemu, split  # noqa: E402
from harness.backends.base import GuestJob  # noqa: E402
from harness.cases import load_cases  # noqa: E402
from harness.images.build import kernel_image, rewriter_image  # noqa: E402
from harness.matrix import load_matrix  # noqa: E402
from harness.progress import silent  # noqa: E402
from harness.shared_clang import ShareHeaders  # noqa: E402

CELLS = ("bcc-0.18@linux-5.10", "bcc-0.26@linux-6.1", "bcc-0.31@linux-6.12", "bcc-0.37@linux-7.2")


def compile_cell(cell, cases, share: ShareHeaders, work: Path, **backend):
    """The compile step of split mode for one cell (`backend`: SplitBackend's other options)."""
    rewriter, kernel = rewriter_image(cell.rewriter), kernel_image(cell.kernel)
    pers = split.personality(kernel, rewriter, qemu.QemuBackend(), silent)
    job = GuestJob(cell.name, rewriter, kernel, tuple(cases), work)
    work.mkdir(parents=True, exist_ok=True)
    return split.SplitBackend(share_headers=share, **backend).compile_on_host(job, pers, silent)


def case_rows(out: Path):
    """(case, without, with, sharing's own work, note) per case of a verify run's output."""
    rows = []
    for path in sorted(out.glob("*/result.json")):
        result = json.loads(path.read_text())
        compiled = result.get("timings", {}).get("compile")
        note = result.get("shared_headers") or {}
        if compiled is None:
            continue
        if note.get("used"):            # kept the shared compile; verify's unshared one beside it
            without, shared = note.get("unshared_compile") or compiled, compiled
        elif note.get("shared_compile") is not None:    # compiled again unshared (failed, or differed)
            without, shared = compiled, compiled + note["shared_compile"]
        else:
            without = shared = compiled
        timings = result.get("timings", {})     # the work of sharing itself: builds (a failed own one too), the scan
        sharing = sum(timings.get(k) or 0.0 for k in ("pch_build", "own_pch_build", "include_scan", "cc1_stub"))
        rows.append((path.parent.name, without, shared, sharing, note))
    return rows


def fidelity(rows) -> dict:
    count = {"identical": 0, "differs": [], "not_shared": 0, "pch_failed": 0, "failed_redone": [],
             "failed_identical": []}
    for name, _, _, _, note in rows:
        if note.get("redone") and not note.get("differs"):
            count["failed_redone"].append(name)     # typo-correctable: its unshared compile is kept by rule
        elif note.get("failed") and note.get("verified"):
            count["failed_identical"].append(name)  # fails the same way shared: the shared result is kept
        if note.get("verified"):
            count["identical"] += 1
        elif note.get("differs"):
            count["differs"].append(f"{name} ({note['differs']})")
        else:
            count["not_shared"] += 1
            count["pch_failed"] += bool(note.get("error"))
    return count


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", type=Path)
    p.add_argument("--cell", action="append")
    p.add_argument("--wall", action="store_true", help="also time the compile step without and with sharing")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    cells = load_matrix().select(args.cell or list(CELLS))
    loaded = load_cases(args.cases or [ROOT / "cases"], ROOT / "cases").cases
    cases = list(loaded)
    report = {"cases": len(cases), "cells": {}}
    with tempfile.TemporaryDirectory(prefix="bench-shared-") as tmp:
        for cell in cells:
            out, seconds, problem = compile_cell(cell, cases, ShareHeaders.VERIFY, Path(tmp) / cell.name / "verify")
            if problem:
                print(f"{cell.name}: {problem}", file=sys.stderr)
            rows = case_rows(out)
            print(f"\n{cell.name}: {len(rows)} cases (compile step {seconds:.1f} s, verify run)")
            print(f"{'case':48} {'without':>8} {'with':>8} {'ratio':>6}  fidelity")
            for name, without, shared, build, note in rows:
                state = ("identical" if note.get("verified") else f"DIFFERS ({note['differs']})"
                         if note.get("differs") else "built the PCH" if build else "not shared")
                print(f"{name[:48]:48} {without:8.2f} {shared:8.2f} {shared / without if without else 0:6.2f}  {state}")
            total_without = sum(r[1] for r in rows)
            total_with = sum(r[2] for r in rows)
            builds = sum(r[3] for r in rows)
            fid = fidelity(rows)
            cell_report = {"without_s": total_without, "with_s": total_with, "pch_build_s": builds,
                           "ratio": (total_with + builds) / total_without if total_without else None,
                           "fidelity": fid, "verify_run_s": seconds}
            print(f"sum without {total_without:.1f} s; with {total_with:.1f} s + sharing (PCH builds, stubs, scans) {builds:.1f} s = "
                  f"{total_with + builds:.1f} s; ratio {cell_report['ratio']:.3f}")
            print(f"fidelity: {fid['identical']} byte-identical, {len(fid['differs'])} differ "
                  f"{fid['differs'] or ''}, {fid['not_shared']} not shared ({fid['pch_failed']} PCH build failures); "
                  f"{len(fid['failed_redone'])} of the identical do not compile with a diagnostic clang may "
                  f"typo-correct, so their unshared compile is kept all the same; "
                  f"{len(fid['failed_identical'])} of the identical fail otherwise (the shared result is kept)")
            if args.wall:
                walls = {}
                for share in (ShareHeaders.OFF, ShareHeaders.ON):
                    t0 = time.monotonic()
                    compile_cell(cell, cases, share, Path(tmp) / cell.name / share.value)
                    walls[share.value] = time.monotonic() - t0
                cell_report["wall"] = walls
                print(f"compile step wall: without {walls['off']:.1f} s, with {walls['on']:.1f} s "
                      f"(ratio {walls['on'] / walls['off']:.3f})")
            report["cells"][cell.name] = cell_report
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
