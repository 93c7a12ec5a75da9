"""Rows built from a bcc source tree: matrix rows, content keys, incremental sync, patches, gates, bisect.

These run on small git repositories the tests make; tests/test_source_build.py really builds bcc.
"""

import os
import subprocess
import time
from pathlib import Path

import pytest

from harness.bisect import bisect
from harness.classify import Result
from harness.gates import parse_gate
from harness.images import source
from harness.images.source import ImageError, SourceSpec, apply_patch, fingerprint, resolve, sync_tree
from harness.matrix import MatrixError, load_matrix
from harness.outcome import Outcome


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "bcc"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.email", "t@example.invalid")
    git(r, "config", "user.name", "t")
    (r / "src").mkdir()
    (r / "src/rewriter.cc").write_text("int rewrite() {\n  return 1;\n}\n")
    (r / "README").write_text("bcc\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "base")
    git(r, "tag", "v0.31.0")
    return r


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    source.resolve.cache_clear()


def spec(tree, ref="", patches=()):
    base = load_matrix().rewriter("bcc-0.31")
    return SourceSpec(str(tree), ref, tuple(str(p) for p in patches), base)


def test_matrix_has_rows_built_from_source_that_all_leaves_out():
    m = load_matrix()
    src = m.rewriter("bcc-src-0.31+fix")
    assert src.source and src.source.ref == "v0.31.0" and src.suite == "trixie"
    assert src.source.patches[0].endswith("docs/findings/array-member-subscript.patch")
    assert Path(src.source.patches[0]).exists()
    assert src.source.base.name == "bcc-0.31"          # the packaged root of the same suite
    assert not any(c.rewriter.source for c in m.all_cells())
    assert m.cell("bcc-src-0.31@linux-6.12").rewriter is m.rewriter("bcc-src-0.31")


def test_matrix_rejects_unknown_keys_in_a_source_row(tmp_path):
    f = tmp_path / "matrix.toml"
    f.write_text('[rewriters.x]\nsuite = "trixie"\nsource = "/tmp"\nbranch = "main"\n'
                 '[kernels.k]\nsuite = "trixie"\n')
    with pytest.raises(MatrixError, match=r"rewriters.x: unknown key\(s\) branch"):
        load_matrix(f)


def test_the_key_follows_content_commit_patches_and_uncommitted_changes(repo, tmp_path):
    first = fingerprint(spec(repo, "v0.31.0"))
    assert fingerprint(spec(repo, "v0.31.0")) == first
    patch = tmp_path / "fix.patch"
    patch.write_text("--- a/README\n+++ b/README\n@@ -1 +1 @@\n-bcc\n+bcc fixed\n")
    assert fingerprint(spec(repo, "v0.31.0", [patch])) != first
    (repo / "README").write_text("changed\n")
    source.resolve.cache_clear()
    head = resolve(spec(repo))               # no ref: HEAD plus the uncommitted change
    assert head.dirty and resolve(spec(repo, "v0.31.0")).dirty == ""
    assert head.revision == "0.31.0"


def test_revision_past_a_tag_names_the_commit_as_bcc_does(repo):
    (repo / "README").write_text("next\n")
    git(repo, "commit", "-qam", "next")
    r = resolve(spec(repo, "main"))
    assert r.revision == f"0.31.0+{r.commit[:8]}" and r.subject == "next"


def test_unknown_ref_and_missing_tree_are_clear_errors(repo, tmp_path):
    with pytest.raises(ImageError, match="ref 'v9.9' is not a commit"):
        resolve(spec(repo, "v9.9"))
    with pytest.raises(ImageError, match="does not exist"):
        resolve(spec(tmp_path / "nowhere", "v0.31.0"))


def test_a_patch_that_does_not_apply_names_file_and_hunk_and_changes_nothing(repo, tmp_path):
    tree = tmp_path / "export"
    tree.mkdir()
    (tree / "src").mkdir()
    (tree / "src/rewriter.cc").write_text("int rewrite() {\n  return 2;\n}\n")
    bad = tmp_path / "bad.patch"
    bad.write_text("--- a/src/rewriter.cc\n+++ b/src/rewriter.cc\n@@ -1,3 +1,3 @@\n int rewrite() {\n"
                   "-  return 1;\n+  return 3;\n }\n")
    with pytest.raises(ImageError) as e:
        apply_patch(bad, tree, "bad.patch")
    assert "bad.patch does not apply" in str(e.value) and "src/rewriter.cc:1" in str(e.value)
    assert (tree / "src/rewriter.cc").read_text() == "int rewrite() {\n  return 2;\n}\n"


def test_export_applies_patches_without_touching_the_users_tree(repo, tmp_path):
    patch = tmp_path / "fix.patch"
    patch.write_text("--- a/src/rewriter.cc\n+++ b/src/rewriter.cc\n@@ -1,3 +1,3 @@\n int rewrite() {\n"
                     "-  return 1;\n+  return 2;\n }\n")
    s = spec(repo, "v0.31.0", [patch])
    source.export(resolve(s), s, tmp_path / "out")
    assert "return 2" in (tmp_path / "out/src/rewriter.cc").read_text()
    assert "return 1" in (repo / "src/rewriter.cc").read_text()
    assert git(repo, "status", "--porcelain") == ""


def test_sync_keeps_the_mtime_of_unchanged_files_so_make_rebuilds_only_what_changed(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        (d / "src").mkdir(parents=True)
    (a / "src/one.cc").write_text("1")
    (a / "src/two.cc").write_text("2")
    (a / "gone.txt").write_text("x")
    assert sync_tree(a, b) == (3, 0)
    assert sync_tree(a, b) == (0, 0)
    old = time.time() - 3600
    for f in (b / "src/one.cc", b / "src/two.cc"):
        os.utime(f, (old, old))
    (a / "src/two.cc").write_text("2 changed")
    (a / "gone.txt").unlink()
    (b / "src/generated.h").write_text("made by the build")     # bcc writes some into its source tree
    assert sync_tree(a, b) == (1, 1)
    assert (b / "src/generated.h").exists()
    assert (b / "src/one.cc").stat().st_mtime == pytest.approx(old)
    assert (b / "src/two.cc").stat().st_mtime > old + 3000      # now: newer than any object made from it
    assert (b / "src/two.cc").read_text() == "2 changed" and not (b / "gone.txt").exists()


def test_gates_name_the_rows_that_carry_a_fix():
    gate, reason = parse_gate("bcc<=0.37,!patch=array-member-subscript WRONG-READ reads too far")
    assert reason == "WRONG-READ reads too far"
    assert gate.holds({"bcc": "0.31.0"})
    assert not gate.holds({"bcc": "0.31.0", "patches": "array-member-subscript"})
    assert parse_gate("patch=array-member-subscript x")[0].holds({"bcc": "0.31.0", "patches": "array-member-subscript"})


def _result(outcome, address="(&t->comm) + (1)"):
    from harness.sites import Site
    site = Site("t->comm[1]", 8, 14, 8, 24, "bpf_probe_read", "subscript", address, 30)
    return Result("oracle/comm_subscript", "x@linux-6.12", outcome, outcome.label, actual_sites=(site,))


def test_bisect_names_the_first_commit_that_changes_and_the_fix_the_other_way_round(repo):
    """fix, unrelated, revert on top of the base: the fake evaluation reads the rewriter file."""
    def commit(text, msg):
        (repo / "src/rewriter.cc").write_text(text)
        git(repo, "commit", "-qam", msg)
        return git(repo, "rev-parse", "HEAD")
    fix = commit("int rewrite() {\n  return 2;\n}\n", "rewriter: fix")
    (repo / "README").write_text("docs\n")
    git(repo, "commit", "-qam", "docs: unrelated")
    revert = commit("int rewrite() {\n  return 1;\n}\n", "Revert the fix")

    def evaluate(sha):
        fixed = "return 2" in git(repo, "show", f"{sha}:src/rewriter.cc")
        return _result(Outcome.PASS, "(char *)&t->comm + (1)") if fixed else _result(Outcome.WRONG_READ)
    again = bisect(str(repo), fix, revert, evaluate)
    assert again.first == (revert, "Revert the fix")
    fixed = bisect(str(repo), "v0.31.0", git(repo, "rev-parse", "HEAD~1"), evaluate)
    assert fixed.first == (fix, "rewriter: fix")
    same = bisect(str(repo), "v0.31.0", revert, evaluate)
    assert same.first is None and "no behaviour change" in same.note


def test_bisect_text_finds_a_change_of_the_rewritten_text_that_keeps_class_and_sites(repo):
    """A commit that changes only bcc's prologue: invisible to the class and sites, found with --text."""
    (repo / "README").write_text("docs\n")
    git(repo, "commit", "-qam", "docs: unrelated")
    (repo / "src/rewriter.cc").write_text("int rewrite() {\n  prologue();\n  return 1;\n}\n")
    git(repo, "commit", "-qam", "rewriter: a new prologue")
    prologue = git(repo, "rev-parse", "HEAD")
    (repo / "README").write_text("more docs\n")
    git(repo, "commit", "-qam", "docs: more")
    texts = {}

    def evaluate(sha):
        result = _result(Outcome.PASS, "(char *)&t->comm + (1)")
        result = Result(result.case_id, f"bcc-{sha[:10]}@linux-6.12", result.outcome, result.message,
                        actual_sites=result.actual_sites)
        texts[result.cell] = (("#define PROLOGUE\n" if "prologue" in git(repo, "show", f"{sha}:src/rewriter.cc")
                               else "") + "int f() { return t->comm[1]; }\n")
        return result
    blind = bisect(str(repo), "v0.31.0", "HEAD", evaluate)
    assert blind.first is None and "no behaviour change" in blind.note
    found = bisect(str(repo), "v0.31.0", "HEAD", evaluate, text=lambda r: texts[r.cell])
    assert found.first == (prologue, "rewriter: a new prologue")
    assert found.good.signature.text != found.bad.signature.text and "text " in found.bad.signature.describe()
    assert all(s.signature.outcome == "PASS" for s in found.steps)


def test_text_diff_shows_the_first_lines_that_differ():
    from harness.bisect import text_diff, text_digest
    assert text_diff("a\nb\n", "a\nb\n") == []
    diff = text_diff("a\nb\n", "x\na\nb\n")
    assert "+x" in diff and diff[0].startswith("--- before")
    assert text_diff(None, "a") == ["rewritten text: none -> some"]
    assert len(text_diff("", "\n".join(map(str, range(100))), most=5)) == 6
    assert text_digest(None) == "none" and len(text_digest("x")) == 12


def test_the_library_installed_is_the_one_the_build_links_now_not_an_older_builds(tmp_path):
    """Each commit past a tag names its library libbcc.so.0.31.0+<sha>, and older ones stay beside it."""
    from harness.images.source import MULTIARCH, PY_BCC, install_build
    cc = tmp_path / "work/build/src/cc"
    cc.mkdir(parents=True)
    (cc / "libbcc.so.0.31.0+f50e2d48").write_text("older build")
    (cc / "libbcc.so.0.31.0+612bfe99").write_text("this build")
    (cc / "libbcc.so.0").symlink_to("libbcc.so.0.31.0+612bfe99")
    package = tmp_path / "work/build/src/python/bcc-python3/bcc"
    package.mkdir(parents=True)
    (package / "version.py").write_text("__version__ = '0.31.0+612bfe99'\n")
    root = tmp_path / "root"
    (root / MULTIARCH).mkdir(parents=True)
    (root / MULTIARCH / "libbcc.so.0.31.0").write_text("debian's")
    (root / MULTIARCH / "libbcc.so.0").symlink_to("libbcc.so.0.31.0")
    (root / PY_BCC).mkdir(parents=True)
    install_build(tmp_path / "work", root)
    assert (root / MULTIARCH / "libbcc.so.0").read_text() == "this build"
    assert not (root / MULTIARCH / "libbcc.so.0.31.0").exists()
    assert (root / PY_BCC / "version.py").exists()
