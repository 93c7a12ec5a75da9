"""Command line: argument parsing only; the stages live in their modules."""

import sys

MIN_PYTHON = (3, 11)   # tomllib (vms/matrix.toml)


def require_python(version=sys.version_info) -> None:
    """Stop with a clear message, before anything imports tomllib, on a Python that is too old.
    Keep this file free of syntax newer than 3.6 so that the check itself runs there."""
    if tuple(version[:2]) < MIN_PYTHON:
        sys.exit("python -m harness needs Python {}.{} or newer (it reads vms/matrix.toml with tomllib); "
                 "this is Python {}.{} ({}). See README.md, 'Two commands'.".format(*MIN_PYTHON, *version[:2],
                                                                                     sys.executable))


require_python()

import argparse  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

from .shared_clang import ShareHeaders  # noqa: E402   (stdlib only, like this file)

try:
    from .backends import MODES
except ImportError:     # libclang not installed yet: only `setup` can run, and it takes no --mode
    MODES = None


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
    run.add_argument("--share-headers", type=ShareHeaders, choices=list(ShareHeaders), default=ShareHeaders.ON,
                     metavar="{%s}" % ",".join(v.value for v in ShareHeaders),
                     help="split mode: one precompiled kernel header per include set and cell (default on; "
                          "verify: also compile each shared case without it and keep that result where they "
                          "differ; off: every case parses its headers, as bcc alone does)")
    run.add_argument("--no-cache", action="store_true", help="run cases again even when their results are known")
    run.add_argument("--cases-root", type=Path, default=None,
                     help="the folder case ids are relative to (default: the project's cases/)")
    run.add_argument("--oracle", action="store_true",
                     help="also compare what each rewrite reads with the original expression (WRONG-READ), "
                          "in the matrix's oracle_cells")
    run.add_argument("--oracle-cell", action="append", help="run the oracle in this cell instead ('all' for every one)")
    run.add_argument("--dry-run", action="store_true",
                     help="print the cells, mode and cases it would run, then stop (nothing is built or booted)")

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
    setup.add_argument("--no-optional", action="store_true",
                       help="with --install, skip what only the harness's own tests use (chromium, cvise, vagrant)")

    imp = sub.add_parser("import", help="merge run directories (e.g. CI artifacts) into the history")
    imp.add_argument("results", nargs="+", type=Path, help="run directories, or folders holding them")
    imp.add_argument("--history", help="history database (default ~/.local/state/bcc-harness/history.db)")
    imp.add_argument("--fail-on-regression", action="store_true",
                     help="exit 1 when an imported run has a regression against the history")

    mat = sub.add_parser("matrix", help="list the matrix's cells (--json for CI job matrices)")
    mat.add_argument("--json", action="store_true")
    mat.add_argument("--cell", action="append")
    mat.add_argument("--nightly-sources", action="store_true",
                     help="the cells of the rows built from source that the nightly runs (defaults.nightly_sources)")

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

    cmp = sub.add_parser("compare", help="two rewriters on the same kernels and cases: fixed, regressed, changed")
    cmp.add_argument("rewriter_a", help="the rewriter before (a row of vms/matrix.toml)")
    cmp.add_argument("rewriter_b", help="the rewriter after")
    cmp.add_argument("cases", nargs="*", type=Path, help="case files or folders (default: cases/)")
    cmp.add_argument("--kernel", action="append", help="kernels (default: those of the matrix's oracle_cells)")
    cmp.add_argument("--mode", choices=MODES, default="auto")
    cmp.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    cmp.add_argument("--case-timeout", type=int, default=900)
    cmp.add_argument("--no-cache", action="store_true")
    cmp.add_argument("--no-oracle", action="store_true", help="compare compile and load only (no value oracle)")
    cmp.add_argument("--all", action="store_true", help="list unchanged pairs too")
    cmp.add_argument("--html", type=Path, help="write the comparison as one self-contained HTML file")
    cmp.add_argument("--markdown", type=Path, help="write the comparison table as Markdown")

    bis = sub.add_parser("bisect", help="the first bcc commit where a case's behaviour changes (git bisect)")
    bis.add_argument("case", help="case id or path")
    bis.add_argument("--tree", required=True, type=Path, help="a bcc checkout (or bundle)")
    bis.add_argument("--good", required=True, help="a ref that behaves as before")
    bis.add_argument("--bad", required=True, help="a ref that behaves differently")
    bis.add_argument("--cell", help="whose kernel and suite to use (default: the first default cell)")
    bis.add_argument("--mode", choices=MODES, default="auto")
    bis.add_argument("--oracle", action="store_true", help="run the value oracle at each step too")
    bis.add_argument("--text", action="store_true",
                     help="a change of bcc's whole rewritten text counts too, not only class and rewrite sites")
    bis.add_argument("--case-timeout", type=int, default=900)

    lint = sub.add_parser("lint", help="parse every case and report annotation errors")
    lint.add_argument("cases", nargs="*", type=Path)

    # Case paths may follow options (`compare A B --kernel K cases/x`): argparse would have matched the
    # `cases` positional, empty, right after A and B, and call the rest unrecognized.
    args, extra = p.parse_known_args(argv)
    stray = [x for x in extra if x.startswith("-") or not isinstance(getattr(args, "cases", None), list)]
    if stray:
        p.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.cases += [Path(x) for x in extra]
    if args.command == "setup":     # runs on a fresh machine, before rich and libclang are installed
        from . import setup
        return setup.cmd_setup(args)
    try:
        from . import commands
    except ModuleNotFoundError as e:
        print(f"error: the Python module {e.name!r} is missing; install the harness's dependencies "
              f"(pip install -e . in the checkout, or run it through tox)", file=sys.stderr)
        return 2
    return getattr(commands, f"cmd_{args.command.replace('-', '_')}")(args)


if __name__ == "__main__":
    sys.exit(main())
