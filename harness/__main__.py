"""Command line: argument parsing only; the stages live in their modules."""

import argparse
import os
import sys
from pathlib import Path

from . import commands
from .backends import MODES


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness",
                                description="Test bcc's Clang rewriter in real kernels.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run cases in cells, classify, store, summarise")
    run.add_argument("cases", nargs="*", type=Path, help="case files or folders (default: cases/)")
    run.add_argument("--cell", action="append", help="a cell <rewriter>@<kernel>, or 'all' (repeatable)")
    run.add_argument("--case-timeout", type=int, default=900, help="seconds per case in the guest")
    run.add_argument("--mode", choices=MODES, default="auto",
                     help="guest: bcc inside the VM; split: bcc on the host, the VM loads; auto: split without KVM")
    run.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="cells run at once")
    run.add_argument("--no-cache", action="store_true", help="run cases again even when their results are known")
    run.add_argument("--cases-root", type=Path, default=None,
                     help="the folder case ids are relative to (default: the project's cases/)")
    run.add_argument("--oracle", action="store_true",
                     help="also compare what each rewrite reads with the original expression (WRONG-READ), "
                          "in the matrix's oracle_cells")
    run.add_argument("--oracle-cell", action="append", help="run the oracle in this cell instead ('all' for every one)")

    fid = sub.add_parser("fidelity", help="run cases in guest and split mode on one cell and list differences")
    fid.add_argument("cases", nargs="*", type=Path, help="case files or folders (default: cases/seed)")
    fid.add_argument("--cell", help="the cell (default: the first default cell)")
    fid.add_argument("--case-timeout", type=int, default=900)
    fid.add_argument("--no-cache", action="store_true")
    fid.add_argument("--no-oracle", action="store_true",
                     help="skip the runtime checks (value oracle, EXPECT-MAP); compare compile and load only")

    show = sub.add_parser("show", help="a case with its sites marked, the rewritten text and logs of the last run")
    show.add_argument("case", help="case id (seed/count_sched) or path")
    show.add_argument("--cell", help="only this cell")

    images = sub.add_parser("images", help="list, build or prune cached images")
    images.add_argument("action", choices=["list", "build", "prune"])
    images.add_argument("--cell", action="append", help="cells whose images to build (default: default cells)")

    setup = sub.add_parser("setup", help="check host programs (qemu, mmdebstrap, ...); --install installs them")
    setup.add_argument("--install", action="store_true")

    imp = sub.add_parser("import", help="merge run directories (e.g. CI artifacts) into the history")
    imp.add_argument("results", nargs="+", type=Path, help="run directories, or folders holding them")
    imp.add_argument("--history", help="history database (default ~/.local/state/bcc-harness/history.db)")
    imp.add_argument("--fail-on-regression", action="store_true",
                     help="exit 1 when an imported run has a regression against the history")

    mat = sub.add_parser("matrix", help="list the matrix's cells (--json for CI job matrices)")
    mat.add_argument("--json", action="store_true")
    mat.add_argument("--cell", action="append")

    diff = sub.add_parser("diff", help="regressions and fixes between two runs (ids, prefixes, latest, previous)")
    diff.add_argument("run_a")
    diff.add_argument("run_b")
    diff.add_argument("--history")

    trends = sub.add_parser("trends", help="false positives and negatives per release, per kernel, over runs")
    trends.add_argument("--history")

    report = sub.add_parser("report", help="write the HTML report and JUnit/CSV/JSON lines of a run")
    report.add_argument("--run", default="latest")
    report.add_argument("--html", type=Path, default=Path("report.html"))
    report.add_argument("--junit", type=Path)
    report.add_argument("--csv", type=Path, help="one row per program, like veristat")
    report.add_argument("--jsonl", type=Path)
    report.add_argument("--history")

    tools = sub.add_parser("import-tools", help="bcc's own tools (Debian's bpfcc-tools) as report-only cases")
    tools.add_argument("--rewriter", default="bcc-0.26", help="whose suite's bpfcc-tools to import")

    tri = sub.add_parser("triage", help="a bug report (C, or Python with BPF(text=...)) across the matrix")
    tri.add_argument("file", type=Path)
    tri.add_argument("--cell", action="append", help="cells (default: all)")
    tri.add_argument("--rewriter", action="append", help="only these rewriters")
    tri.add_argument("--kernel", action="append", help="only these kernels")
    tri.add_argument("--mode", choices=MODES, default="auto")
    tri.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    tri.add_argument("--reduce", action="store_true", help="shrink it with C-Vise, keeping the failure signature")
    tri.add_argument("--budget", type=float, default=600, help="seconds C-Vise may take")
    tri.add_argument("--cases-root", type=Path, help="where cases/triage/ is written (default: the project's)")
    tri.add_argument("--attach", nargs=3, action="append", metavar=("FN", "KIND", "TARGET"),
                     help="where FN attaches, for the value oracle (kprobe__/kretprobe__ names need none)")
    tri.add_argument("--no-oracle", action="store_true", help="compile and load only: no value oracle")

    chk = sub.add_parser("triage-check", help="(internal) the interestingness test --reduce gives C-Vise")
    chk.add_argument("candidate", type=Path)
    chk.add_argument("--signature", required=True)
    chk.add_argument("--cell", required=True)
    chk.add_argument("--mode", choices=MODES, default="auto")

    bless = sub.add_parser("bless", help="regenerate a case's expect-rewrite lines from what a release does")
    bless.add_argument("case", help="case id or path")
    bless.add_argument("--cell", help="whose rewrite to take (default: the first default cell)")
    bless.add_argument("--mode", choices=MODES, default="auto")
    bless.add_argument("--write", action="store_true", help="write the change (otherwise only show the diff)")

    lint = sub.add_parser("lint", help="parse every case and report annotation errors")
    lint.add_argument("cases", nargs="*", type=Path)

    args = p.parse_args(argv)
    return getattr(commands, f"cmd_{args.command.replace('-', '_')}")(args)


if __name__ == "__main__":
    sys.exit(main())
