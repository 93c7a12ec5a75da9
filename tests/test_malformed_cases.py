"""Malformed case files, one of each kind a careless or hostile hand produces. Each gets a clear
`file:line: ` error or is rightly accepted; nothing raises; one bad file never loses the others (lint and
the case loading of `run` over a folder holding all of them plus a good case)."""

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from harness.cases import INTERNAL, MAX_CASE_BYTES, load_cases
from harness.pipeline import invalid_results
from harness.report.terminal import print_summary

ROOT = Path(__file__).resolve().parent.parent
H = "// CASE: malformed input\n"
FN = "int f(struct pt_regs *ctx, struct task_struct *p)\n{\n    return p->pid;  // expect-rewrite{{p->pid}}\n}\n"
GOOD = H + FN
EMPTY_FN = "int f(struct pt_regs *ctx) { return 0; }\n"


def text(body):
    return lambda path: path.write_bytes(body if isinstance(body, bytes) else body.encode())


def symlink_loop(path):
    os.symlink(path.with_name("loop_b.c"), path)
    os.symlink(path, path.with_name("loop_b.c"))


def fifo(path):
    os.mkfifo(path)      # opening it would block forever: lint must not try


def directory(path):
    path.mkdir()
    (path / "inner.c").write_text(GOOD)


def huge(path):
    with open(path, "wb") as f:
        f.write(GOOD.encode())
        f.write(b"// padding\n" * (10 * 1024 * 1024 // 11))


# name: (how to make it, (line, words in the error) or None when it is rightly accepted)
KINDS = {
    "empty": (text(""), (1, "empty case file")),
    "blank": (text("  \n\t\n"), (1, "empty case file")),
    "binary": (text(bytes(range(256)) * 4), (1, "a NUL byte")),
    "binary_not_utf8": (text(b"\xff\xfe\x80garbage\n" * 10), (1, "not UTF-8")),
    "latin1": (text(H.encode() + b"// caf\xe9\n" + EMPTY_FN.encode()), (2, "not UTF-8")),
    "nul_byte": (text(H + EMPTY_FN + "\0\n"), (3, "a NUL byte")),
    "ten_megabytes": (huge, (1, f"more than the {MAX_CASE_BYTES}")),
    "only_comments": (text(H + "// nothing else\n/* at all */\n"), (1, "no code, only comments")),
    "no_description": (text(EMPTY_FN), (1, "missing '// CASE:")),
    "two_descriptions": (text(H + "// CASE: again\n" + EMPTY_FN), (2, "a second CASE line")),
    "unterminated_annotation": (text(H + "int f(struct pt_regs *ctx, struct task_struct *p)\n{\n"
                                     "    return p->pid;  // expect-rewrite{{p->pid\n}\n"), (4, "malformed expect-rewrite")),
    "misplaced_annotation": (text(H + "// expect-rewrite{{p->pid}}\n" + FN.replace("  // expect-rewrite{{p->pid}}", "")),
                             (2, "names no expression on line 2")),
    "annotation_names_absent_expression": (text(GOOD.replace("{{p->pid}}", "{{tasks[i]->pid}}")),
                                           (4, "expect-rewrite{{tasks[i]->pid}} names no expression on line 4")),
    "annotation_points_outside": (text(GOOD.replace("expect-rewrite{{", "expect-rewrite@+40{{")),
                                  (4, "outside the file")),
    "annotation_not_a_dereference": (text(GOOD.replace("{{p->pid}}", "{{pid}}")), (4, "names no dereference")),
    "same_site_annotated_twice": (text(GOOD.replace("{{p->pid}}", "{{p->pid}} expect-rewrite{{p->pid}}")),
                                  (4, "annotated 2 times, but line 4 holds it 1 time(s)")),
    "unknown_prog_type": (text(H + "// PROG: f uprobe2\n" + EMPTY_FN), (2, "PROG wants")),
    "prog_names_nothing": (text(H + "// PROG: g kprobe\n" + EMPTY_FN), (2, "PROG names 'g'")),
    "duplicate_prog": (text(H + "// PROG: f kprobe\n// PROG: f kretprobe\n" + EMPTY_FN), (3, "a second PROG line")),
    "unknown_attach_kind": (text(H + "// ATTACH: f fentry vfs_read\n" + EMPTY_FN), (2, "ATTACH wants")),
    "attach_bad_regex": (text(H + "// ATTACH: f kprobe re:(vfs\n" + EMPTY_FN), (2, "bad regular expression")),
    "unknown_gate": (text(H + "// REQUIRES: clang>=15\n" + EMPTY_FN), (2, "no condition")),
    "malformed_gate": (text(H + "// XFAIL: bcc=0.2 reason\n" + EMPTY_FN), (2, "malformed condition")),
    "xfail_unknown_class": (text(H + "// XFAIL: * FN-BOGUS some reason\n" + EMPTY_FN), (2, "FN-BOGUS is not a class")),
    "xfail_without_reason": (text(H + "// XFAIL: bcc<0.30\n" + EMPTY_FN), (2, "needs a reason")),
    "unknown_load_category": (text(H + "// expect-load: reject stack-smash\n" + EMPTY_FN), (2, "unknown load category")),
    "load_names_no_function": (text(H + "// expect-load[g]: ok\n" + EMPTY_FN), (2, "names no program function")),
    "duplicate_load": (text(H + "// expect-load: ok\n// expect-load: reject\n" + EMPTY_FN),
                       (3, "a second expect-load")),
    "duplicate_function": (text(H + EMPTY_FN + EMPTY_FN.replace("0", "1")), (3, "defined twice")),
    "duplicate_tracepoint_probe": (text(H + "TRACEPOINT_PROBE(sched, sched_switch) { return 0; }\n" * 2),
                                   (3, "defined twice")),
    "unbalanced_open_brace": (text(H + "int f(void *ctx)\n{\n    if (ctx) {\n    return 0;\n}\n"), (3, "never closed")),
    "unbalanced_close_brace": (text(H + EMPTY_FN + "}\n"), (3, "closes no")),
    "bare_kprobe": (text(H + "int kprobe__(struct pt_regs *ctx) { return 0; }\n"), (2, "names no attach point")),
    "bare_tracepoint_category": (text(H + "int tracepoint__sched(void *args) { return 0; }\n"),
                                 (2, "names no attach point")),
    "kprobe_name_vs_prog": (text(H + "// PROG: kprobe__vfs_read tracepoint\n"
                                 "int kprobe__vfs_read(struct pt_regs *ctx) { return 0; }\n"), (2, "not a tracepoint")),
    "kprobe_name_vs_attach_kind": (text(H + "// ATTACH: kprobe__vfs_read kretprobe vfs_read\n"
                                        "int kprobe__vfs_read(struct pt_regs *ctx) { return 0; }\n"),
                                   (2, "not a kretprobe")),
    "kprobe_name_vs_attach_target": (text(H + "// ATTACH: kprobe__vfs_read kprobe vfs_write\n"
                                          "int kprobe__vfs_read(struct pt_regs *ctx) { return 0; }\n"),
                                     (2, "bcc attaches kprobe__vfs_read by its name: kprobe vfs_read")),
    "trigger_port_out_of_range": (text(H + "// TRIGGER: tcp 99999\n" + EMPTY_FN), (2, "port 99999 is not in 1..65535")),
    "trigger_no_packets": (text(H + "// TRIGGER: udp 0 100 4242\n" + EMPTY_FN), (2, "COUNT >= 1")),
    "trigger_unknown": (text(H + "// TRIGGER: ping\n" + EMPTY_FN), (2, "TRIGGER wants")),
    "two_triggers": (text(H + "// TRIGGER: open\n// TRIGGER: tcp 80\n" + EMPTY_FN), (3, "a second TRIGGER")),
    "expect_map_undeclared": (text(H + "// EXPECT-MAP: counts[0] == 1\nBPF_ARRAY(hits, u64, 1);\n" + EMPTY_FN),
                              (2, "map 'counts', which the program does not declare (declared: hits)")),
    "expect_map_malformed": (text(H + "// EXPECT-MAP: counts == 1\n" + EMPTY_FN), (2, "EXPECT-MAP wants")),
    "unterminated_comment": (text(H + EMPTY_FN + "/* never closed\nint g;\n"), (3, "comment that is never closed")),
    "unterminated_string": (text(H + 'int f(void *ctx) { char *s = "abc; return 0; }\n'), (2, "never closed")),
    "markup_in_message": (text(GOOD.replace("{{p->pid}}", "{{m[key]->x[/]}}")), (4, "{{m[key]->x[/]}}")),
    "symlink_loop": (symlink_loop, (1, "cannot read: Too many levels of symbolic links")),
    "dangling_symlink": (lambda path: os.symlink(path.with_name("nowhere.c.missing"), path),
                         (1, "cannot read: No such file")),
    "fifo": (fifo, (1, "not a regular file")),
    # Rightly accepted:
    "crlf": (text(GOOD.replace("\n", "\r\n")), None),
    "bom": (text("\ufeff" + GOOD), None),
    "tabs": (text(GOOD.replace("    return p->pid;", "\t\treturn\tp->pid;")), None),
    "non_ascii": (text(GOOD.replace("malformed input", "é 漢字 ✓").replace("return p->pid;", 'return "ü"[0] + p->pid;')),
                  None),
    "maps_and_types_only": (text(H + "BPF_HASH(counts, u32, u64);\nstruct key { int a; };\n"), None),
    "brace_in_a_macro": (text(H + "#define OPEN {\n#define CLOSE }\n" + EMPTY_FN), None),
    "kfunc_probe_twice": (text(H + "KFUNC_PROBE(vfs_read) { return 0; }\nKFUNC_PROBE(vfs_write) { return 0; }\n"), None),
    "same_expression_twice_annotated_twice": (text(GOOD.replace("return p->pid;  // expect-rewrite{{p->pid}}",
                                                                "return p->pid + p->pid;  // expect-rewrite{{p->pid}} "
                                                                "expect-rewrite{{p->pid}}")), None),
    "chmod_000": (lambda path: (path.write_text(GOOD), path.chmod(0)), None),   # root reads it: see below
    "directory_named_x": (directory, None),     # the folder x.c is searched
}
ACCEPTED_SITES = {"crlf": [(4, 12)], "bom": [(4, 12)], "tabs": [(4, 10)], "non_ascii": [(4, 22)],
                  "same_expression_twice_annotated_twice": [(4, 12), (4, 21)]}


def make(folder: Path, name: str) -> Path:
    path = folder / f"{name}.c"
    KINDS[name][0](path)
    return path


def check_error(e, path: Path, line: int, words: str):
    assert str(e).startswith(f"{path}:{line}: "), str(e)
    assert words in str(e), str(e)
    assert INTERNAL not in str(e)


def test_there_are_at_least_30_kinds():
    assert len(KINDS) >= 30 and sum(v[1] is not None for v in KINDS.values()) >= 30


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_gets_a_file_line_error_or_is_accepted(tmp_path, name):
    path = make(tmp_path, name)
    loaded = load_cases([tmp_path], tmp_path)
    expected = KINDS[name][1]
    if expected is None:
        assert not loaded.errors, [str(e) for e in loaded.errors]
        assert len(loaded.cases) == 1
        case = loaded.cases[0]
        if name in ACCEPTED_SITES:
            assert [(s.line, s.col) for s in case.sites] == ACCEPTED_SITES[name]
            assert all(s.text == "p->pid" for s in case.sites)
        if name == "maps_and_types_only":
            assert case.functions == ()
        if name == "directory_named_x":
            assert case.id == "directory_named_x.c/inner"
        return
    assert not loaded.cases
    assert len(loaded.errors) == (2 if name == "symlink_loop" else 1)
    check_error(next(e for e in loaded.errors if e.path == path), path, *expected)


def test_unreadable_file_as_an_unprivileged_user():
    """root reads a chmod-000 file anyway (CAP_DAC_OVERRIDE), so the load runs in a forked child that
    has dropped to uid/gid 65534 (nobody): there the read really fails with EACCES. The folder lives in
    /tmp with mode 755 because pytest's tmp_path is private to root."""
    folder = Path(tempfile.mkdtemp(prefix="harness-unreadable-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        (folder / "good.c").write_text(GOOD)
        (folder / "good.c").chmod(0o644)
        locked = folder / "locked.c"
        locked.write_text(GOOD)
        locked.chmod(0)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:        # the child: never returns into pytest
            status = 1
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                loaded = load_cases([folder], folder)
                out = {"cases": [c.id for c in loaded.cases], "errors": [str(e) for e in loaded.errors]}
                os.write(write_end, json.dumps(out).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end) as f:
            out = json.loads(f.read() or "{}")
        assert os.waitpid(pid, 0)[1] == 0
        assert out["cases"] == ["good"]
        assert out["errors"] == [f"{locked}:1: cannot read: Permission denied"]
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


def all_kinds(folder: Path) -> Path:
    folder.mkdir()
    for name in KINDS:
        make(folder, name)
    (folder / "zz_good.c").write_text(GOOD)
    return folder


def test_lint_over_all_kinds_reports_each_and_keeps_the_good_ones(tmp_path):
    folder = all_kinds(tmp_path / "cases")
    done = subprocess.run([sys.executable, "-m", "harness", "lint", str(folder)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    assert done.returncode == 1
    bad = [n for n, (_, e) in KINDS.items() if e is not None]
    accepted = len(KINDS) - len(bad) + 1     # + zz_good.c
    errors = len(bad) + 1                    # the symlink loop's second link is an error too
    assert done.stdout.splitlines()[-1] == f"{accepted} cases clean, {errors} with errors"
    for name in bad:
        line, words = KINDS[name][1]
        assert any(out.startswith(f"{folder / name}.c:{line}: ") and words in out
                   for out in done.stdout.splitlines()), name


def test_run_loading_keeps_the_good_cases_and_prints_every_error(tmp_path):
    """`run` loads cases, turns each error into INVALID results, and prints them through rich."""
    folder = all_kinds(tmp_path / "cases")
    loaded = load_cases([folder], folder)
    assert "zz_good" in {c.id for c in loaded.cases}
    assert "directory_named_x.c/inner" in {c.id for c in loaded.cases}
    cells = [SimpleNamespace(name="bcc-0.26@linux-6.1")]
    results = invalid_results(loaded.errors, cells, folder)
    assert len(results) == len(loaded.errors) and all(r.label == "INVALID" for r in results)
    buf = io.StringIO()
    print_summary(results, Console(file=buf, width=500, color_system=None))
    out = buf.getvalue()
    assert "expect-rewrite{{m[key]->x[/]}} names no expression" in out
    assert "expect-rewrite{{tasks[i]->pid}} names no expression" in out
