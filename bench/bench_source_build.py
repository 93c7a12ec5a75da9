"""How long a row built from source takes: a build with nothing changed, and the rebuild after one
change to the rewriter (b_frontend_action.cc), in the suite's build tree the harness keeps.

    python bench/bench_source_build.py [--tree ../shared/bcc/bcc-v0.31-to-master.bundle] [--ref v0.31.0]
        [--patch docs/findings/array-member-subscript.patch] [--cold]

Alternates the tree between the ref and the ref + patch (the patch touches one file), timing only the
build of libbcc (images/source.py build_libbcc); --cold first empties the build tree (a full build).
Prints each figure and the ratio of the one-file rebuild to the full build when both were measured.
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.images.source import build_dir, build_libbcc, resolve  # noqa: E402
from harness.matrix import load_matrix  # noqa: E402
from harness.paths import project_root  # noqa: E402


def timed(matrix, name, tree, ref, patches, suite):
    spec = matrix.from_source(name, tree, ref, patches, suite)
    t0 = time.monotonic()
    _, facts = build_libbcc(spec, resolve(spec.source))
    return time.monotonic() - t0, facts["files_changed"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tree", default=str(project_root().parent / "shared/bcc/bcc-v0.31-to-master.bundle"))
    p.add_argument("--ref", default="v0.31.0")
    p.add_argument("--patch", default=str(project_root() / "docs/findings/array-member-subscript.patch"))
    p.add_argument("--suite", default="trixie")
    p.add_argument("--cold", action="store_true", help="empty the build tree first and time a full build")
    args = p.parse_args()
    matrix = load_matrix()
    figures = {}
    if args.cold:
        shutil.rmtree(build_dir(args.suite) / "build", ignore_errors=True)
        figures["full build (cold build tree)"] = timed(matrix, "bench", args.tree, args.ref, [], args.suite)
    figures["ref, to settle the tree"] = timed(matrix, "bench", args.tree, args.ref, [], args.suite)
    figures["nothing changed"] = timed(matrix, "bench", args.tree, args.ref, [], args.suite)
    figures["one file changed (+ patch)"] = timed(matrix, "bench", args.tree, args.ref, [args.patch], args.suite)
    figures["one file changed back"] = timed(matrix, "bench", args.tree, args.ref, [], args.suite)
    for what, (seconds, files) in figures.items():
        print(f"{what:32s} {seconds:7.1f} s   ({files} file(s) synced)")
    if args.cold:
        full = figures["full build (cold build tree)"][0]
        print(f"one-file rebuild / full build: {figures['one file changed (+ patch)'][0] / full:.2f}")


if __name__ == "__main__":
    main()
