"""Rows built from bcc's source, for real: build libbcc from the shared bundle in trixie's root, prove the
array-member-subscript fix with `compare`, and bisect commits the test makes on top of v0.31.0.

The bundle (../shared/bcc/bcc-v0.31-to-master.bundle, bcc's real history) stands in for a maintainer's
checkout. Builds are cached under the user cache directory (a cold one costs ~5 minutes here, a rebuild
after a change to the rewriter about one); without the bundle these tests say so and skip.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import project_root
from harness.sites import compact

BUNDLE = project_root().parent / "shared" / "bcc" / "bcc-v0.31-to-master.bundle"
PATCH = project_root() / "docs" / "findings" / "array-member-subscript.patch"
KERNEL = "linux-6.12"

pytestmark = [pytest.mark.vm,
              pytest.mark.skipif(not BUNDLE.exists(), reason=f"bcc's source bundle is not at {BUNDLE}: "
                                                             "no tree to build from (see shared/bcc/README.md)")]


def harness(*args, timeout=3000):
    proc = subprocess.run([sys.executable, "-m", "harness", *args], cwd=project_root(), capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, COLUMNS="250"))
    return proc.returncode, proc.stdout + proc.stderr


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_compare_proves_the_fix_on_a_row_built_from_the_v0_31_0_tag():
    """Unpatched vs patched v0.31.0: the WRONG-READ and the pointer-member FN-MISSING are fixed, and a
    case the patch must not touch keeps its class and its rewrite."""
    code, out = harness("compare", "bcc-src-0.31", "bcc-src-0.31+fix", "--kernel", KERNEL, "--all",
                        "cases/oracle/comm_subscript.c", "cases/sources/kprobe_filename_subscript.c",
                        "cases/seed/count_sched.c")
    assert code == 0, out
    run = Path(out.split("results: ")[-1].split()[0])
    found = {c["case"]: c for c in json.loads((run / "compare.json").read_text())}
    assert found["oracle/comm_subscript"]["verdict"] == "fixed", found["oracle/comm_subscript"]
    assert found["oracle/comm_subscript"]["before"]["class"] == "WRONG-READ"
    (site,) = found["oracle/comm_subscript"]["sites"]
    assert compact(site["before"]) == "(void*)((&t->comm)+(1))", site
    assert compact(site["after"]) == "(void*)(((typeof(char)*)&t->comm)+(1))", site
    # The pointer member: before, one read from the struct (the oracle measures it 32 bytes off); after,
    # the pointer is read, then indexed: two sites, as the case expects.
    assert found["sources/kprobe_filename_subscript"]["verdict"] == "fixed"
    assert found["sources/kprobe_filename_subscript"]["before"]["class"] == "WRONG-READ"
    assert len(found["sources/kprobe_filename_subscript"]["sites"]) == 2
    assert found["seed/count_sched"]["verdict"] == "unchanged"
    assert not found["seed/count_sched"]["rewritten_differs"]
    # The built rows name their tree, commit and patches in the cell's versions.
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    fixed = next(r for r in rows if r["cell"] == f"bcc-src-0.31+fix@{KERNEL}")
    assert fixed["versions"]["bcc"] == "0.31.0" and fixed["versions"]["patches"] == "array-member-subscript"
    tag = subprocess.run(["git", "ls-remote", str(BUNDLE), "refs/tags/v0.31.0"], capture_output=True, text=True,
                         check=True).stdout.split()[0]
    assert fixed["versions"]["bcc_commit"] == tag


@pytest.fixture(scope="module")
def bcc_with_commits(tmp_path_factory):
    """A clone of the bundle with three commits on v0.31.0: the fix, an unrelated change, the fix undone."""
    repo = tmp_path_factory.mktemp("bcc") / "bcc"
    subprocess.run(["git", "clone", "-q", str(BUNDLE), str(repo)], check=True)
    git(repo, "checkout", "-q", "-b", "work", "v0.31.0")
    git(repo, "config", "user.email", "harness@example.invalid")
    git(repo, "config", "user.name", "harness test")
    git(repo, "apply", str(PATCH))
    git(repo, "commit", "-qam", "clang: read array members and pointer members at the element's address")
    fix = git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nA line no build reads.\n")
    git(repo, "commit", "-qam", "docs: an unrelated change")
    git(repo, "revert", "--no-edit", fix)
    return repo, fix, git(repo, "rev-parse", "HEAD")


def test_bisect_names_the_commit_that_undoes_the_fix_and_the_fix_the_other_way_round(bcc_with_commits):
    repo, fix, revert = bcc_with_commits
    case, cell = "sources/kprobe_filename_subscript", f"bcc-src-0.31@{KERNEL}"
    code, out = harness("bisect", case, "--tree", str(repo), "--good", fix, "--bad", revert, "--cell", cell)
    assert code == 0, out
    assert f"behaves differently on {KERNEL}: {revert[:12]} Revert" in out, out
    code, out = harness("bisect", case, "--tree", str(repo), "--good", "v0.31.0", "--bad", "HEAD~1", "--cell", cell)
    assert code == 0, out
    assert f"{fix[:12]} clang: read array members" in out, out
    assert "FN-MISSING" in out and "PASS" in out


def test_a_row_whose_build_fails_is_harness_with_the_first_error_and_the_other_rows_run(tmp_path):
    """A patch that breaks the C build of one file: make stops there (seconds, the rest is built), the row
    is HARNESS naming the compiler's error and the log, and the row beside it still passes."""
    broken = tmp_path / "broken.patch"
    context = [" " + line + "\n" for line in _lines(16, 18)]   # trailing context too, or git anchors at EOF
    broken.write_text("--- a/src/cc/bcc_proc.c\n+++ b/src/cc/bcc_proc.c\n@@ -16,3 +16,4 @@\n" + "".join(context[:2])
                      + "+#error harness test: this row must not build\n" + context[2])
    matrix = tmp_path / "matrix.toml"
    matrix.write_text((project_root() / "vms" / "matrix.toml").read_text().replace(
        'source = "../shared/bcc/', f'source = "{project_root().parent}/shared/bcc/') + f'''
[rewriters."bcc-broken"]
suite = "trixie"
source = "{BUNDLE}"
ref = "v0.31.0"
patches = ["{broken}"]
''')
    os.environ["HARNESS_MATRIX"] = str(matrix)
    try:
        code, out = harness("run", "cases/seed/count_sched.c", "--cell", f"bcc-broken@{KERNEL}",
                            "--cell", f"bcc-src-0.31@{KERNEL}")
    finally:
        del os.environ["HARNESS_MATRIX"]
    assert code == 2, out
    run = Path(out.split("results: ")[-1].split()[0])
    rows = {r["cell"]: r for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    bad = rows[f"bcc-broken@{KERNEL}"]
    assert bad["outcome"] == "HARNESS", bad
    assert "bcc_proc.c" in bad["message"] and "harness test: this row must not build" in bad["message"], bad
    assert rows[f"bcc-src-0.31@{KERNEL}"]["outcome"] == "PASS", rows


def _lines(first, last):
    """Lines of v0.31.0's src/cc/bcc_proc.c, as the patch's context."""
    text = subprocess.run(["git", "--git-dir", str(_mirror()), "show", "v0.31.0:src/cc/bcc_proc.c"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    return text[first - 1:last]


def _mirror():
    from harness.images.source import repository
    return repository(str(BUNDLE))
