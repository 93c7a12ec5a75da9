"""Shared kernel headers (guest/shared_headers.py, include_sets.py, pch_build.py, pch_fidelity.py; shared_clang.py): the include-set key, the PCH build's
argv, the fidelity comparison, the matching clang package; one real compile (marker vm) at the end."""

import json
import os
from pathlib import Path

import pytest

from harness.guest.include_sets import entry_at, guard_checks, include_block_end, include_lines, plan, set_key
from harness.guest.pch_build import cc1_args, compile_dir, failing_include, pch_argv
from harness.guest.pch_fidelity import differs
from harness.guest.shared_headers import Sharing
from harness.images.store import Image
from harness.shared_clang import ShareHeaders, clang_package, installed_version

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """// CASE: something
// ATTACH: f kprobe do_nanosleep

#include <linux/sched.h>
#  include   "local.h"
/* one-line comment */
#include <net/sock.h>
#define X 1
#include <linux/fs.h>
int f(void) { return 0; }
"""

ANGLED = PROGRAM.replace('"local.h"', "<local.h>")

CC1 = ("clang -cc1 -triple x86_64-unknown-linux-gnu -emit-llvm-bc -emit-llvm-uselists -disable-free "
       "-main-file-name main.c -resource-dir lib/clang/14.0.6 -include /virtual/include/bcc/helpers.h "
       "-D KBUILD_MODNAME=\"bcc\" -fdebug-compilation-dir=/usr/src/linux-headers-6.1.0-50-common "
       "-o main.bc -x c /virtual/main.c")


def test_include_set_is_the_leading_includes_only():
    assert include_lines(PROGRAM) == ["#include <linux/sched.h>"]       # a "..." include ends the set
    assert include_lines(PROGRAM.replace('"local.h"', "<local.h>")) == [
        "#include <linux/sched.h>", "#include <local.h>", "#include <net/sock.h>"]
    # C before the first include is fine, a directive is not (it could change how headers preprocess)
    assert include_lines("static int f(void) { return 0; }\n\n#include <linux/sched.h>\nint x;\n") == [
        "#include <linux/sched.h>"]
    assert include_lines("#define X 1\n#include <linux/sched.h>\n") == []
    assert include_lines("int y;\n  #if 1\n#include <linux/sched.h>\n#endif\n") == []


def test_a_guard_that_only_sets_its_own_macro_is_an_entry_of_the_set_checked_after_it():
    """bcc's tools open with `#ifndef KBUILD_MODNAME / #define KBUILD_MODNAME "bcc" / #endif`: an entry
    of the set, parsed in the PCH where it stands. The compile runs it again after the PCH, so the
    PCH's header ends with a check that the macro's state is then still the one the guard leaves."""
    tool = ('// CASE: a tool\n\n#ifndef KBUILD_MODNAME\n#define KBUILD_MODNAME "bcc"\n#endif\n'
            "#include <uapi/linux/ptrace.h>\n#ifdef EXTRA\n#undef EXTRA\n#endif  // not wanted\n"
            "#include <net/sock.h>\n#ifndef X\n#define X 2\n#endif\nint x;\n")
    lines = include_lines(tool)
    assert lines == ['#ifndef KBUILD_MODNAME\n#define KBUILD_MODNAME "bcc"\n#endif', "#include <uapi/linux/ptrace.h>",
                     "#ifdef EXTRA\n#undef EXTRA\n#endif  // not wanted", "#include <net/sock.h>"]
    assert tool[:include_block_end(tool)].endswith("#include <net/sock.h>\n")    # the last guard is the program's
    assert guard_checks(lines) == [
        "#ifndef KBUILD_MODNAME\n#error harness: the include set changes KBUILD_MODNAME after its guard\n#endif",
        "#ifdef EXTRA\n#error harness: the include set changes EXTRA after its guard\n#endif"]
    # header lines 1-3 are the first entry, 4 the first #include, 5-7 the second guard, 8 the last line
    assert [entry_at(lines, n) for n in (1, 3, 4, 5, 7, 8, 9, None)] == [1, 1, 2, 3, 3, 4, None, None]
    # a guard of another macro, or one that does more, is a directive like any other: no set
    assert include_lines("#ifndef A\n#define B 1\n#endif\n#include <linux/sched.h>\n") == []
    assert include_lines("#ifdef A\n#define A 1\n#endif\n#include <linux/sched.h>\n") == []
    # a PCH of a guard alone is not worth one: the cut after it is not offered to another case
    other = '#ifndef KBUILD_MODNAME\n#define KBUILD_MODNAME "bcc"\n#endif\n#include <linux/virtio.h>\n'
    chosen = plan([("tool", lines, []), ("other", include_lines(other), [])])
    assert chosen["tool"][1] == lines and chosen["other"][1] == include_lines(other)


def test_key_depends_on_includes_and_cflags_not_on_the_rest():
    other_body = ANGLED.replace("return 0", "return 1").replace("// CASE: something", "// CASE: else")
    key = set_key(include_lines(ANGLED), [])
    assert key == set_key(include_lines(other_body), [])
    assert key != set_key(include_lines(ANGLED), ["-DFOO=1"])
    assert key != set_key(include_lines(ANGLED.replace("net/sock.h", "net/tcp.h")), [])
    assert set_key([], []) == ""                                      # nothing to share
    assert set_key(include_lines(ANGLED), ["-DMSG=a b"]) == ""       # bcc prints cc1 args unquoted


def test_plan_takes_the_longest_prefix_another_case_shares_else_its_own_lines():
    sched, fs, sock = "#include <linux/sched.h>", "#include <linux/fs.h>", "#include <net/sock.h>"
    chosen = plan([("a", [sched], []), ("b", [sched, fs], []), ("c", [sched, fs, sock], []),
                   ("d", [sock], []), ("e", [sched], ["-DX=1"])])
    assert chosen["a"] == (set_key([sched], []), [sched])
    assert chosen["b"][1] == chosen["c"][1] == [sched, fs]
    # no other case starts the same (cflags count): a PCH of all their own lines
    assert chosen["d"] == (set_key([sock], []), [sock]) and chosen["e"] == (set_key([sched], ["-DX=1"]), [sched])
    assert chosen["e"][0] != chosen["a"][0] and "f" not in plan([("f", [], [])])


def test_cc1_line_is_read_back_with_its_quotes():
    log = CC1 + "\n#if defined(BPF_LICENSE)\n"
    args = cc1_args(log)
    assert args[:2] == ["-triple", "x86_64-unknown-linux-gnu"]
    assert 'KBUILD_MODNAME="bcc"' in args                     # a shell split would drop the quotes
    assert cc1_args("no line here\n") is None
    assert compile_dir(args) == "/usr/src/linux-headers-6.1.0-50-common"
    clang11 = ["-O2", "-fdebug-compilation-dir", "/usr/src/linux-headers-5.10.0-32-common", "-ferror-limit", "19"]
    assert compile_dir(clang11) == "/usr/src/linux-headers-5.10.0-32-common"


def test_pch_argv_keeps_the_parse_options_and_changes_action_input_output():
    argv = pch_argv("/c/clang", cc1_args(CC1), [("/virtual/include/bcc/helpers.h", "/t/v/helpers.h")],
                    "/t/k.h", "/t/k.pch")
    assert argv[:2] == ["/c/clang", "-cc1"]
    assert "-emit-llvm-bc" not in argv and "-emit-llvm-uselists" not in argv
    assert "main.bc" not in argv and "/virtual/main.c" not in argv
    assert argv[-7:] == ["-fmodules-embed-all-files", "-emit-pch", "-o", "/t/k.pch", "-x", "c-header", "/t/k.h"]
    assert ["-remap-file", "/virtual/include/bcc/helpers.h;/t/v/helpers.h"] == argv[-9:-7]
    for kept in ("-disable-free", "-include", "/virtual/include/bcc/helpers.h", 'KBUILD_MODNAME="bcc"'):
        assert kept in argv
    with pytest.raises(ValueError):
        pch_argv("/c/clang", ["-triple", "x"], [], "/t/k.h", "/t/k.pch")


def _out(path, log, compiled=True, canonical=b'{"insns": {"f": "95"}}'):
    path.mkdir(parents=True)
    (path / "compile.log").write_text(log)
    (path / "result.json").write_text(json.dumps({"compiled": compiled, "error": ""}))
    (path / "canonical.json").write_bytes(canonical)
    return path


def test_differs_ignores_only_the_cc1_line(tmp_path):
    shared = _out(tmp_path / "a", "clang -cc1 -include-pch /tmp/x.pch\nrewritten\n")
    assert differs(shared, _out(tmp_path / "b", "clang -cc1 \nrewritten\n")) == ""
    assert differs(shared, _out(tmp_path / "c", "clang -cc1 \nrewritten \n")) == "compile.log"
    assert differs(shared, _out(tmp_path / "d", "clang -cc1 \nrewritten\n", compiled=False)) == "compiled"
    other = _out(tmp_path / "e", "clang -cc1 \nrewritten\n", canonical=b'{"insns": {"f": "96"}}')
    assert differs(shared, other) == "instructions and maps"


def test_a_stub_compile_gives_the_cc1_line_so_the_first_case_of_a_set_uses_its_pch(tmp_path, monkeypatch):
    """bcc's cc1 line depends on the cflags only: it is learnt once per cflags from a compile of a stub
    program in a child (not from the first case compiled plain), so every case of a set uses its PCH."""
    import harness.guest.shared_headers as shared_headers
    (tmp_path / "cases").mkdir()
    texts = {"a": "#include <linux/sched.h>\nint a;\n", "b": "#include <linux/sched.h>\nint b;\n",
             "c": "#include <linux/fs.h>\nint c;\n"}
    cases = []
    for name, text in texts.items():
        (tmp_path / "cases" / f"{name}.c").write_text(text)
        cases.append({"id": name, "file": f"cases/{name}.c", "cflags": ["-DX=1"]})
    stubs, builds = [], []

    def fork_child(mode, arg, out):
        case = json.loads(Path(arg).read_text())
        stubs.append((mode, case["cflags"], Path(arg).parent.joinpath(case["file"]).read_text()))
        os.makedirs(out)
        Path(out, "compile.log").write_text(CC1 + "\n")
        return 1234

    def build_pch(clang, cc1, lines, key, workdir, remaps):
        builds.append((cc1, lines))
        (tmp_path / f"{key}.pch").write_bytes(b"pch")
        return str(tmp_path / f"{key}.pch"), 0.5, "", ""
    monkeypatch.setattr(shared_headers, "build_pch", build_pch)
    sharing = Sharing(str(tmp_path), {"clang": "/c", "verify": True, "workdir": str(tmp_path / "work")}, cases,
                      fork_child, lambda pid, timeout: "exit-0")
    sharing.remaps = []
    assert set(sharing.plan) == {"a", "b", "c"} and sharing.plan["c"][0] != sharing.plan["a"][0]
    first = sharing.before(cases[0])
    assert stubs == [("compile", ["-DX=1"], shared_headers.STUB)]
    assert builds == [(CC1.split(" ")[2:], ["#include <linux/sched.h>"])]
    assert first["pch"] == str(tmp_path / ("%s.pch" % sharing.plan["a"][0])) and first["canon"]
    assert sharing.before(cases[1])["pch"] == first["pch"]
    assert sharing.before(cases[2])["pch"] == str(tmp_path / ("%s.pch" % sharing.plan["c"][0]))
    assert len(stubs) == 1 and len(builds) == 2     # one stub per cflags, one build per set
    assert set(sharing.built["a"]) == {"cc1_stub", "pch_build", "pch_bytes"}   # charged to the case that waited
    assert not (tmp_path / "work" / "cc1-stub-1").exists()


def test_without_a_cc1_line_from_the_stub_the_first_case_compiles_plain_and_gives_it(tmp_path):
    cases = _cases(tmp_path, {"a": "#include <linux/sched.h>\nint a;\n", "b": "#include <linux/sched.h>\nint b;\n"})
    stubs = []

    def fork_child(mode, arg, out):        # a stub whose child died before bcc printed anything
        stubs.append(arg)
        return 1234
    sharing = Sharing(str(tmp_path), {"clang": "/c", "workdir": str(tmp_path / "work")}, cases, fork_child,
                      lambda pid, timeout: "signal-11")
    assert "pch" not in sharing.before(cases[0]) and not sharing.cc1
    assert "pch" not in sharing.before(cases[1]) and len(stubs) == 1     # not asked again


def test_clang_package_matches_the_images_libclang_cpp(tmp_path):
    status = tmp_path / "root/var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    status.write_text("Package: libllvm14\nVersion: 1:14.0.6-12\n\nPackage: libclang-cpp14\nStatus: install ok\n"
                      "Version: 1:14.0.6-12\n")
    assert installed_version(status, "libclang-cpp14") == "1:14.0.6-12"
    assert installed_version(status, "clang-14") == ""
    image = Image(tmp_path, {"clang": "libclang-cpp14", "suite": "bookworm"})
    assert clang_package(image) == ("clang-14", "1:14.0.6-12")
    assert clang_package(Image(tmp_path, {"suite": "bookworm"})) is None      # built from source


def compile_verified(tmp_path, files, untrusted=False, cell="bcc-0.26@linux-6.1"):
    """Split mode's host compile of `files` in `cell` with --share-headers verify: (its output dir,
    each case's shared_headers note). Needs the images (cached) and root."""
    if os.geteuid() != 0:
        pytest.skip("the compile sandbox needs root")
    from harness.backends import qemu, split
    from harness.backends.base import GuestJob
    from harness.cases import load_cases
    from harness.images.build import kernel_image, rewriter_image
    from harness.matrix import load_matrix
    from harness.progress import silent
    cell = load_matrix().select([cell])[0]
    cases = load_cases(files, ROOT / "cases").cases
    assert all(c.untrusted == untrusted for c in cases)
    rewriter, kernel = rewriter_image(cell.rewriter), kernel_image(cell.kernel)
    pers = split.personality(kernel, rewriter, qemu.QemuBackend(), silent)
    job = GuestJob(cell.name, rewriter, kernel, tuple(cases), tmp_path)
    out, _, problem = split.SplitBackend(share_headers=ShareHeaders.VERIFY).compile_on_host(job, pers, silent)
    assert not problem
    return out, split.shared_header_notes(out)


@pytest.mark.vm
def test_shared_headers_compile_byte_identical(tmp_path):
    """Three cases with one include set in bcc-0.26@linux-6.1: a stub compile gives bcc's cc1 line, the
    first case waits for the PCH's build, and all three compile with it and again without it,
    byte-identical. A fourth starts with the same #include and has two more, which its compile parses
    after the PCH, byte-identical too. Needs the images (cached) and root."""
    out, notes = compile_verified(tmp_path, [ROOT / "cases/seed/count_sched.c", ROOT / "cases/talk/count_sched_prev_pid.c",
                                             ROOT / "cases/talk/count_sched_manual_read.c",
                                             ROOT / "cases/indirection/member_of_member_dot.c"])
    first = notes["seed__count_sched"]
    assert first["cc1_stub"] > 0 and first["pch_build"] > 0, first
    for name in ("seed__count_sched", "talk__count_sched_prev_pid", "talk__count_sched_manual_read",
                 "indirection__member_of_member_dot"):
        assert notes[name]["used"] and notes[name]["verified"], notes[name]
        assert "-include-pch" in (out / name / "compile.log").read_text().splitlines()[0]
    assert notes["indirection__member_of_member_dot"]["key"] == first["key"]


def test_shards_keep_include_groups_together_where_balance_allows():
    from harness.backends.compile_shards import deal_grouped
    cases = [{"id": f"a{i}", "g": "a"} for i in range(6)] + [{"id": f"b{i}", "g": "b"} for i in range(2)] + \
            [{"id": f"c{i}", "g": "c"} for i in range(2)]
    parts = deal_grouped(cases, 2, lambda c: c["g"])
    assert sorted(len(p) for p in parts) == [5, 5]
    assert sorted(c["id"] for p in parts for c in p) == sorted(c["id"] for c in cases)
    for group in ("b", "c"):                     # small groups are never split
        assert sum(any(c["g"] == group for c in p) for p in parts) == 1


def _cases(tmp_path, texts):
    (tmp_path / "cases").mkdir()
    cases = []
    for name, text in texts.items():
        (tmp_path / "cases" / f"{name}.c").write_text(text)
        cases.append({"id": name, "file": f"cases/{name}.c", "cflags": []})
    return cases


def _knowing_cc1(sharing):
    """A Sharing that already knows bcc's cc1 line for no cflags (no stub compile)."""
    sharing.cc1[json.dumps([])] = CC1.split(" ")[2:]
    return sharing


def test_a_case_another_shard_took_still_counts_toward_its_sets_last(tmp_path):
    """A compile shard skips the cases a sibling shard claimed (compile_shards.py); the PCH goes with
    the set's last case, compiled here or skipped."""
    sched = "#include <linux/sched.h>\nint x;\n"
    cases = _cases(tmp_path, {"a": sched, "b": sched, "c": sched})
    sharing = _knowing_cc1(Sharing(str(tmp_path), {"clang": "/c"}, cases, None, None))
    pch = tmp_path / "sched.pch"
    pch.write_bytes(b"pch")
    sharing.pch[sharing.plan["a"][0]] = str(pch)
    out = tmp_path / "out" / "a"
    out.mkdir(parents=True)
    (out / "result.json").write_text(json.dumps({"compiled": True, "timings": {}}))
    sharing.after(sharing.before(cases[0]), str(out), None, 10)
    sharing.skip(cases[1])
    assert pch.exists()
    sharing.skip(cases[2])
    assert not pch.exists() and not sharing.pch
    sharing.skip({"id": "not planned"})      # a case of no include set changes nothing


def test_each_include_sets_cases_run_together_and_its_pch_goes_with_the_last(tmp_path):
    """An untrusted compile's /tmp is capped, so a PCH is kept only while cases of its set are left; the
    cases are ordered so that one set's PCH is needed at a time. A PCH build is charged to the timings
    of the case that waited for it."""
    sched, fs = "#include <linux/sched.h>\nint x;\n", "#include <linux/fs.h>\nint y;\n"
    cases = _cases(tmp_path, {"a": sched, "c": "int alone;\n", "d": fs, "b": sched, "e": fs})
    sharing = _knowing_cc1(Sharing(str(tmp_path), {"clang": "/c"}, cases, None, None))
    assert [c["id"] for c in sharing.order(cases)] == ["a", "b", "c", "d", "e"]
    pch = tmp_path / "sched.pch"
    pch.write_bytes(b"pch")
    key = sharing.plan["a"][0]
    sharing.pch[key] = str(pch)
    sharing.built["a"] = {"pch_build": 1.5}
    for name in ("a", "b"):
        out = tmp_path / "out" / name
        out.mkdir(parents=True)
        (out / "result.json").write_text(json.dumps({"compiled": True, "timings": {"compile": 0.2}}))
        case = sharing.before(dict(cases[[c["id"] for c in cases].index(name)]))
        assert case["pch"] == str(pch)
        sharing.after(case, str(out), None, 10)
        assert pch.exists() == (name == "a")
    result = json.loads((tmp_path / "out/a/result.json").read_text())
    assert result["timings"] == {"compile": 0.2, "pch_build": 1.5} and result["shared_headers"]["used"]
    assert key not in sharing.pch


def test_a_kept_pch_leaves_with_its_sets_last_case_for_a_later_compile_to_take_as_built(tmp_path):
    """The cases' compile of an oracle cell keeps each PCH (and the warnings its build printed) instead
    of removing it; the oracle's compile of the same cell takes it as built: no build, the warnings set
    aside as before, and it stays, being that job's input."""
    sched = "#include <linux/sched.h>\nint x;\n"
    cases = _cases(tmp_path, {"a": sched, "b": sched})
    keep = tmp_path / "kept"
    sharing = _knowing_cc1(Sharing(str(tmp_path), {"clang": "/c", "keep": str(keep)}, cases, None, None))
    key = sharing.plan["a"][0]
    pch = tmp_path / "sched.pch"
    pch.write_bytes(b"CPCH")
    sharing.pch[key], sharing.warned[key] = str(pch), ["a warning block\n"]
    for case in cases:
        out = tmp_path / "out" / case["id"]
        out.mkdir(parents=True)
        (out / "result.json").write_text(json.dumps({"compiled": True, "timings": {}}))
        sharing.after(sharing.before(dict(case)), str(out), None, 10)
        assert pch.exists() == (case["id"] == "a")
    assert (keep / f"{key}.pch").read_bytes() == b"CPCH"

    programs = tmp_path / "programs"
    programs.mkdir()
    probes = _cases(programs, {"a.probe": sched + "int p;\n", "a.twin": sched + "int t;\n"})

    def no_build(*args):
        raise AssertionError("a PCH taken as built is not built again")
    later = _knowing_cc1(Sharing(str(programs), {"clang": "/c", "prebuilt": str(keep)}, probes, None, None))
    later._build = no_build
    assert later.plan["a.probe"][0] == key and later.warned[key] == ["a warning block\n"]
    for case in probes:
        shared = later.before(dict(case))
        assert shared["pch"] == str(keep / f"{key}.pch")
        out = programs / "out" / case["id"]
        out.mkdir(parents=True)
        (out / "result.json").write_text(json.dumps({"compiled": True, "timings": {}}))
        later.after(shared, str(out), None, 10)
        note = json.loads((out / "result.json").read_text())["shared_headers"]
        assert note == {"used": True, "key": key, "prebuilt": True, "header_warnings": 1}
    assert (keep / f"{key}.pch").exists()


def test_kept_pchs_go_only_to_a_sandbox_of_the_same_kind_as_the_one_that_made_them(tmp_path):
    """What an untrusted program's sandbox wrote never reaches a trusted compile, and a trusted
    compile's PCHs are never handed where untrusted programs could change them."""
    from harness.backends.split import kept_for
    assert kept_for((tmp_path, True), True) == tmp_path and kept_for((tmp_path, False), False) == tmp_path
    assert kept_for((tmp_path, True), False) is None and kept_for((tmp_path, False), True) is None
    assert kept_for(None, False) is None


def test_shards_kept_pchs_are_joined_and_a_shard_input_links_them(tmp_path):
    from harness.backends.compile_shards import link_or_copy, merge_shards
    for k, keys in enumerate((["a", "b"], ["b", "c"])):
        shard = tmp_path / f"compile-{k}-out"
        (shard / ".headers").mkdir(parents=True)
        (shard / f"case{k}").mkdir()
        (shard / "status").write_text(f"case{k}:exit-0:1.0\n")
        for key in keys:
            (shard / ".headers" / f"{key}.pch").write_text(f"{key} from shard {k}")
    dest = merge_shards([tmp_path / "compile-0-out", tmp_path / "compile-1-out"], tmp_path / "compile-out")
    assert sorted(p.name for p in (dest / ".headers").iterdir()) == ["a.pch", "b.pch", "c.pch"]
    assert (dest / ".headers" / "b.pch").read_text() == "b from shard 0"
    assert (dest / "status").read_text() == "case0:exit-0:1.0\ncase1:exit-0:1.0\n"
    link_or_copy(dest / ".headers" / "a.pch", tmp_path / "linked.pch")
    link_or_copy(dest / "status", tmp_path / "copied")
    assert os.path.samefile(dest / ".headers" / "a.pch", tmp_path / "linked.pch")
    assert not os.path.samefile(dest / "status", tmp_path / "copied")


# the shape of what clang 11 printed for a failed PCH build in bcc-0.18@linux-7.2 (a warning first,
# then the first error, inside the set's second #include line)
FAILED_BUILD = """In file included from <built-in>:2:
In file included from /virtual/include/bcc/bpf.h:12:
include/linux/compiler-clang.h:51:9: warning: '__HAVE_BUILTIN_BSWAP32__' macro redefined [-Wmacro-redefined]
#define __HAVE_BUILTIN_BSWAP32__
        ^
In file included from {header}:2:
In file included from include/net/sock.h:46:
include/linux/bpf.h:441:29: error: invalid application of '__alignof' to an incomplete type 'struct bpf_list_node'
        return __alignof__(struct bpf_list_node);
                           ^
include/linux/bpf.h:2221:17: error: use of undeclared identifier 'x'
1 warning and 2 errors generated.
"""


def _with_builds(tmp_path, monkeypatch, texts, fails):
    """A Sharing of programs made of `texts` (id: include lines) whose PCH builds are played: one fails
    with what fails(lines, header) prints, else it is made. Returns (sharing, cases, the builds' lines)."""
    import harness.guest.shared_headers as shared_headers
    cases = _cases(tmp_path, {name: "\n".join(lines) + "\nint x;\n" for name, lines in texts.items()})
    builds = []

    def build_pch(clang, cc1, lines, key, workdir, remaps, base=None, checked=None):
        builds.append(lines if base is None else ("on", os.path.basename(base), lines, checked))
        os.makedirs(workdir, exist_ok=True)
        Path(workdir, key + ".h").write_text("\n".join(lines))
        printed = fails(lines, os.path.join(workdir, key + ".h"))
        if printed:
            return None, 1.5, "clang exited 1: ...", printed
        (tmp_path / f"{key}.pch").write_bytes(b"pch")
        return str(tmp_path / f"{key}.pch"), 0.5, "", ""
    monkeypatch.setattr(shared_headers, "build_pch", build_pch)
    sharing = _knowing_cc1(Sharing(str(tmp_path), {"clang": "/c", "workdir": str(tmp_path / "work")}, cases,
                                   None, None))
    sharing.remaps = []
    return sharing, cases, builds


def test_a_set_that_starts_with_the_lines_a_failed_build_failed_in_is_not_built(tmp_path, monkeypatch):
    """A PCH build fails on its first error, and everything up to the #include line that error came from
    parses the same in any set of those cflags: a set starting with the same lines is not built (its
    cases compile plain, as they would after its own failed build). Other sets still are, and an error
    outside the set's lines (bcc's own headers) dooms nothing."""
    import harness.guest.shared_headers as shared_headers
    sock = ["#include <uapi/linux/ptrace.h>", "#include <net/sock.h>"]
    texts = {"a": sock, "b": sock, "c": sock + ["#include <bcc/proto.h>"], "d": sock + ["#include <bcc/proto.h>"],
             "e": sock[:1] + ["#include <linux/fs.h>"], "f": sock[:1] + ["#include <linux/fs.h>"]}
    sharing, cases, builds = _with_builds(tmp_path, monkeypatch, texts, lambda lines, header: FAILED_BUILD.format(
        header=header) if lines[1] == "#include <net/sock.h>" else None)
    assert len({sharing.plan[n][0] for n in "ace"}) == 3
    prepared = {c["id"]: sharing.before(c) for c in cases}
    assert builds == [texts["a"], texts["e"]]
    assert "pch" not in prepared["a"] and "pch" not in prepared["c"] and prepared["e"]["pch"]
    assert sharing.failed[sharing.plan["c"][0]].startswith("not built: its first 2 #include lines are those of a "
                                                           "set whose PCH build failed in the last of them")
    assert sharing.built["a"] == {"pch_build": 1.5} and "c" not in sharing.built
    # the same failure inside bcc's own headers (no line of the set in its chain) dooms nothing
    builds.clear()
    monkeypatch.setattr(shared_headers, "build_pch", lambda clang, cc1, lines, key, workdir, remaps: (
        builds.append(lines), (None, 1.5, "clang exited 1", FAILED_BUILD.format(header="/virtual/include/bcc/helpers.h"))
    )[1])
    other = _knowing_cc1(Sharing(str(tmp_path), {"clang": "/c", "workdir": str(tmp_path / "work")}, cases, None, None))
    other.remaps = []
    for c in cases:
        other.before(c)
    assert builds == [texts["a"], texts["c"], texts["e"]]


def test_a_set_with_a_line_a_build_failed_in_tells_from_its_first_case_compiled_plain_whether_to_build(
        tmp_path, monkeypatch):
    """A set holding an #include line that a build failed in is likely to fail too: its first case
    compiles plain first. Its first error inside one of the set's #include lines is where the set's
    build would stop: not built, and a set starting with the same lines neither. An error in the
    program's own code: built for the rest. A set without such a line is built first, as before."""
    fs, sock, sched = "#include <linux/fs.h>", "#include <net/sock.h>", "#include <linux/sched.h>"
    texts = {"a": [fs], "b": [fs], "c": ["// x", sock, fs], "d": ["// x", sock, fs], "f": [sock, fs, sched],
             "f2": [sock, fs, sched], "e": [sched, fs], "e2": [sched, fs], "g": [sock], "h": [sock]}
    sharing, cases, builds = _with_builds(tmp_path, monkeypatch, texts, lambda lines, header: (
        "In file included from %s:1:\ninclude/linux/fs.h:2442:1: error: static_assert failed\n" % header
        if lines == [fs] else None))

    def compile_(name, log):
        case = sharing.before(dict(next(c for c in cases if c["id"] == name)))
        out = tmp_path / "out" / name
        out.mkdir(parents=True)
        (out / "compile.log").write_text(CC1 + "\n" + log)
        (out / "result.json").write_text(json.dumps({"compiled": not log, "timings": {}}))
        sharing.after(case, str(out), None, 10)
        return case, json.loads((out / "result.json").read_text())["shared_headers"]
    compile_("a", "include/linux/fs.h:2442:1: error: static_assert failed\n")
    assert builds == [[fs]]
    # c's set [sock, fs] has fs.h: its first case compiles plain, and fails in fs.h, its second line
    case, note = compile_("c", "In file included from /virtual/main.c:3:\ninclude/linux/fs.h:2442:1: error: "
                               "static_assert failed\n")
    assert "pch" not in case and builds == [[fs]]
    assert note["error"] == ("not built: its first case failed in its #include line 2: include/linux/fs.h:2442:1: "
                             "error: static_assert failed")
    assert "pch" not in compile_("d", "x")[0] and builds == [[fs]]
    # f's set starts with the same lines as c's up to where c failed: not built, no first case needed
    case, note = compile_("f", "x")
    assert "pch" not in case and builds == [[fs]]
    assert note["error"].startswith("not built: its first 2 #include lines are those of a set whose PCH build "
                                    "failed in the last of them: not built: its first case failed in")
    # e's set [sched, fs]: its first case fails in its own code, so the set is built after it
    case, note = compile_("e", "/virtual/main.c:3:5: error: use of undeclared identifier 'y'\n")
    assert "pch" not in case and builds == [[fs], [sched, fs]] and note["pch_build"] == 0.5
    assert compile_("e2", "")[0]["pch"]
    # [sock] holds no line a build failed in: built before its first case, as ever
    assert compile_("g", "")[0]["pch"] and builds[-1] == [sock]


def test_failing_include_reads_the_first_errors_outermost_line():
    header = "/tmp/shared-headers/k.h"
    assert failing_include(FAILED_BUILD.format(header=header), header) == 2
    assert failing_include(FAILED_BUILD.format(header="/elsewhere.h"), header) is None
    assert failing_include(header + ":3:10: fatal error: 'linux/nope.h' file not found\n", header) == 3
    assert failing_include(FAILED_BUILD.split("In file included from {header}")[0], header) is None   # warnings only


# what clang 11 printed building a PCH in bcc-0.18@linux-5.10 (two of its three warnings, recorded)
PCH_WARNINGS = """In file included from <built-in>:2:
In file included from /virtual/include/bcc/bpf.h:12:
include/linux/compiler-clang.h:51:9: warning: '__HAVE_BUILTIN_BSWAP32__' macro redefined [-Wmacro-redefined]
#define __HAVE_BUILTIN_BSWAP32__
        ^
<command line>:4:9: note: previous definition is here
#define __HAVE_BUILTIN_BSWAP32__ 1
        ^
In file included from <built-in>:2:
In file included from /virtual/include/bcc/bpf.h:12:
include/linux/compiler-clang.h:52:9: warning: '__HAVE_BUILTIN_BSWAP64__' macro redefined [-Wmacro-redefined]
#define __HAVE_BUILTIN_BSWAP64__
        ^
2 warnings generated.
"""


def test_header_warnings_printed_by_the_pch_build_are_not_a_difference(tmp_path):
    """With a PCH, clang 11 does not repeat the kernel headers' warnings per case: only those exact
    blocks (and the count line) are set aside; any other difference in the log still counts."""
    from harness.guest.pch_build import header_warnings
    warned = header_warnings(PCH_WARNINGS)
    assert len(warned) == 2 and warned[0].startswith("In file included from <built-in>:2:\n")
    assert warned[1].endswith("        ^\n") and "note" not in warned[1]
    rewritten = "#include <linux/sched.h>\nint f(void *ctx) { return 0; }\n"
    shared, plain = tmp_path / "shared", tmp_path / "plain"
    for out, log in ((shared, "clang -cc1 -include-pch x\n" + rewritten),
                     (plain, "clang -cc1 x\n" + PCH_WARNINGS.replace("2 warnings generated.\n", "") + rewritten
                      + "2 warnings generated.\n")):
        out.mkdir()
        (out / "compile.log").write_text(log)
        (out / "result.json").write_text(json.dumps({"compiled": True}))
    assert differs(shared, plain) == "compile.log"
    assert differs(shared, plain, warned) == ""
    for out, count in ((shared, "1 error generated.\n"), (plain, "2 warnings and 1 error generated.\n")):
        (out / "compile.log").write_text((out / "compile.log").read_text().replace("2 warnings generated.\n", "")
                                         + count)
    assert differs(shared, plain, warned) == ""
    (plain / "compile.log").write_text((plain / "compile.log").read_text().replace("return 0", "return 1"))
    assert differs(shared, plain, warned) == "compile.log"


def test_a_header_path_spelled_absolute_by_the_pch_is_not_a_difference(tmp_path):
    """Recorded from sofdsnoop in bcc-0.26@linux-6.1 and sslsniff in bcc-0.31@linux-6.12 (clang 19 adds
    the numbered line): a note on a macro from a header names the header by the absolute path the PCH
    stored; the plain parse names it relative to bcc's working dir."""
    cwd = "/usr/src/linux-headers-6.1.0-50-common"
    note = ("{}include/linux/minmax.h:105:19: note: expanded from macro 'min'\n<scratch space>:{}:1: note: "
            "expanded from here\n   {} | __compiletime_assert_533\n")
    shared, plain = tmp_path / "shared", tmp_path / "plain"
    for out, prefix, scratch in ((shared, cwd + "/", 33), (plain, "", 136)):
        out.mkdir()
        (out / "compile.log").write_text(f"clang -cc1 -fdebug-compilation-dir={cwd} -o main.bc -x c /virtual/main.c\n"
                                         + note.format(prefix, scratch, scratch))
        (out / "result.json").write_text(json.dumps({"compiled": True}))
    assert differs(shared, plain) == ""
    (shared / "compile.log").write_text((shared / "compile.log").read_text().replace("minmax.h:105", "minmax.h:106"))
    assert differs(shared, plain) == "compile.log"


def test_a_line_of_clangs_predefines_is_not_a_difference(tmp_path):
    """Recorded from xdp_packet_bounds in bcc-0.18@linux-7.2: with -include-pch the predefines buffer
    has a line more, so a note on `__seg_gs` (defined there) names line 310 shared, 309 plain. The
    macro's own text still counts."""
    note = ("arch/x86/include/asm/percpu.h:45:31: note: expanded from macro '__percpu_seg_override'\n"
            "<built-in>:{}:33: note: expanded from here\n#define __seg_gs __attribute__((address_space({})))\n")
    shared = _out(tmp_path / "shared", CC1 + "\n" + note.format(310, 256))
    plain = _out(tmp_path / "plain", CC1 + "\n" + note.format(309, 256))
    assert differs(shared, plain) == ""
    (plain / "compile.log").write_text(CC1 + "\n" + note.format(309, 257))
    assert differs(shared, plain) == "compile.log"


@pytest.mark.vm
def test_untrusted_programs_share_a_pch_built_inside_their_sandbox(tmp_path):
    """Imported tools are untrusted: they compile in the untrusted sandbox, and so does their PCH (built
    by clang from their <...> include lines, in the sandbox's capped /tmp). Two tools with one include
    set share it, byte-identical to their unshared compile, and no PCH reaches the host's disk."""
    tools = ROOT / "cases/tools/bcc-0.26"
    out, notes = compile_verified(tmp_path, [tools / "cpudist.c", tools / "bashreadline.c", tools / "killsnoop.c"],
                                  untrusted=True)
    used = [n for n in notes.values() if n.get("used")]
    assert len(used) >= 2 and all(n["verified"] for n in used), notes
    assert sum(1 for n in notes.values() if n.get("pch_build")) >= 1
    assert not list(tmp_path.rglob("*.pch"))


def test_a_shared_compile_that_fails_is_compiled_again_without_the_pch_even_when_not_verifying(tmp_path):
    """Recorded in bcc-0.18@linux-5.10 (runqlat): with a PCH, clang does not offer "did you mean
    'state'?" for task_struct's __state, so bcc rewrote other text. A failing shared compile is redone
    unshared and that result kept; a compile that succeeds keeps its shared result unverified."""
    cases = _cases(tmp_path, {"a": "#include <linux/sched.h>\nint a;\n", "b": "#include <linux/sched.h>\nint b;\n"})
    redone = []

    def fork_child(mode, arg, out):
        redone.append(json.loads(Path(arg).read_text())["id"])
        Path(out, "compile.log").write_text("clang -cc1 x\nerror: no member named '__state'; did you mean 'state'?\n")
        Path(out, "result.json").write_text(json.dumps({"compiled": False, "timings": {"compile": 0.9}}))
        return 1234
    sharing = _knowing_cc1(Sharing(str(tmp_path), {"clang": "/c", "workdir": str(tmp_path / "work")}, cases,
                                   fork_child, lambda pid, timeout: "exit-0"))
    sharing.pch[sharing.plan["a"][0]] = str(tmp_path / "x.pch")
    (tmp_path / "x.pch").write_bytes(b"pch")
    for name, compiled in (("a", True), ("b", False)):
        out = tmp_path / "out" / name
        out.mkdir(parents=True)
        (out / "compile.log").write_text("clang -cc1 -include-pch x\nerror: no member named '__state'\n")
        (out / "result.json").write_text(json.dumps({"compiled": compiled, "timings": {"compile": 0.3}}))
        sharing.after(sharing.before(dict(cases[0 if name == "a" else 1])), str(out), str(tmp_path / f"{name}.json"), 10)
    assert redone == ["b"]
    kept = json.loads((tmp_path / "out/b/result.json").read_text())
    assert "did you mean" in (tmp_path / "out/b/compile.log").read_text()
    assert kept["shared_headers"]["used"] is False and kept["shared_headers"]["differs"] == "compile.log"
    assert kept["shared_headers"]["failed"] is True and kept["shared_headers"]["redone"] is True
    assert kept["timings"] == {"compile": 0.9, "shared_compile": 0.3}
    assert json.loads((tmp_path / "out/a/result.json").read_text())["shared_headers"] == {"used": True, "key": sharing.plan["a"][0]}


def _shared_outcome(tmp_path, shared_log, shared_compiled, plain_log, plain_compiled, verify,
                    pch=b"CPCH\x00task_struct\x00sched_entity"):
    """One case compiled with a PCH (its output as given, the PCH's bytes `pch`), then after();
    fork_child plays the unshared compile. Returns (the ids compiled again, the kept result.json, the
    kept compile.log)."""
    cases = _cases(tmp_path, {"a": "#include <linux/sched.h>\nint a;\n", "b": "#include <linux/sched.h>\nint b;\n"})
    redone = []

    def fork_child(mode, arg, out):
        redone.append(json.loads(Path(arg).read_text())["id"])
        Path(out, "compile.log").write_text(plain_log)
        Path(out, "result.json").write_text(json.dumps({"compiled": plain_compiled, "timings": {"compile": 0.9}}))
        return 1234
    sharing = _knowing_cc1(Sharing(str(tmp_path), {"clang": "/c", "workdir": str(tmp_path / "work"),
                                                   "verify": verify}, cases,
                                   fork_child, lambda pid, timeout: "exit-0"))
    sharing.pch[sharing.plan["a"][0]] = str(tmp_path / "x.pch")
    (tmp_path / "x.pch").write_bytes(pch)
    out = tmp_path / "out" / "a"
    out.mkdir(parents=True)
    (out / "compile.log").write_text(shared_log)
    (out / "result.json").write_text(json.dumps({"compiled": shared_compiled, "timings": {"compile": 0.3}}))
    sharing.after(sharing.before(dict(cases[0])), str(out), str(tmp_path / "a.json"), 10)
    return redone, json.loads((out / "result.json").read_text()), (out / "compile.log").read_text()


def test_a_failing_shared_compile_without_a_typo_correctable_diagnostic_keeps_its_result(tmp_path):
    """Typo correction is what a PCH hides; a program rejected for another reason (here bcc's rewrite
    made an assignment to an rvalue) fails the same way shared, so it is not compiled twice."""
    log = "clang -cc1 -include-pch x\n/virtual/main.c:9:18: error: expression is not assignable\n"
    redone, kept, text = _shared_outcome(tmp_path, log, False, "unused", False, verify=False)
    assert redone == [] and text == log
    assert kept["shared_headers"] == {"used": True, "key": kept["shared_headers"]["key"], "failed": True}
    for diagnostic in ("no member named 'state' in 'struct task_struct'", "field designator 'st' does not "
                       "refer to any field in type 'struct task_struct'", "no member named 'y'; did you mean 'x'?"):
        sub = tmp_path / f"d{len(list(tmp_path.iterdir()))}"
        sub.mkdir()
        redone, kept, _ = _shared_outcome(sub, f"/virtual/main.c:3:1: error: {diagnostic}\n", False,
                                          "plain\n", False, verify=False)
        assert redone == ["a"] and kept["shared_headers"]["redone"], diagnostic


def test_a_missing_member_of_a_record_the_pch_does_not_declare_keeps_the_shared_result(tmp_path):
    """bcc 0.18 has no `atomic_increment`: its error names a table struct the program itself declares,
    so no candidate of a correction can come from the PCH. A record the PCH declares (task_struct), a
    name found only inside a longer one, a suggestion, or any other typo-correctable diagnostic beside
    it, and the program is compiled again."""
    table = "/virtual/main.c:51:10: error: no member named 'atomic_increment' in 'struct dist_table_t'\n"
    redone, kept, text = _shared_outcome(tmp_path, table, False, "plain\n", False, verify=False)
    assert redone == [] and text == table
    assert kept["shared_headers"]["typo_local"] is True and kept["shared_headers"]["used"] is True
    for log, pch in ((table, b"CPCH\x00dist_table_t\x00"), (table, b"CPCH\x00my_dist_table_t_x\x00"),
                     ("x.c:1:1: error: no member named 'state' in 'struct task_struct'\n", b"CPCH\x00task_struct"),
                     ("x.c:1:1: error: no member named 'st' in 'struct dist_table_t'; did you mean 'state'?\n", b"CPCH"),
                     ("x.c:1:1: error: no member named 'u' in 'union dist_u'\nx.c:2:1: error: field designator "
                      "'pid' does not refer to any field in type 'struct key_t'\n", b"CPCH")):
        sub = tmp_path / f"d{len(list(tmp_path.iterdir()))}"
        sub.mkdir()
        redone, kept, _ = _shared_outcome(sub, log, False, "plain\n", False, verify=False, pch=pch)
        assert redone == ["a"] and kept["shared_headers"]["redone"], (log, pch)
        assert "typo_local" not in kept["shared_headers"]


def test_a_name_looked_up_unqualified_keeps_the_shared_result_its_correction_searches_the_pch_too(tmp_path):
    """clang corrects an undeclared identifier, type name or function from every identifier it knows,
    the PCH's included, so the shared compile's answer is the plain one (bench_shared_headers.py's
    verify proof); beside a member of a record the PCH declares, the program is still compiled again."""
    for diagnostic in ("use of undeclared identifier 'MAX_PID'", "unknown type name 'u65'",
                       "use of undeclared identifier 'TASK_COMM'; did you mean 'TASK_COMM_LEN'?",
                       "call to undeclared function 'f'; ISO C99 and later do not support implicit function "
                       "declarations", "implicit declaration of function 'bpf_probe_read_kernel' is invalid "
                       "in C99"):
        sub = tmp_path / f"d{len(list(tmp_path.iterdir()))}"
        sub.mkdir()
        log = f"/virtual/main.c:3:1: error: {diagnostic}\n"
        redone, kept, text = _shared_outcome(sub, log, False, "plain\n", False, verify=False,
                                             pch=b"CPCH\x00TASK_COMM_LEN\x00task_struct\x00")
        assert redone == [] and text == log, diagnostic
        assert kept["shared_headers"]["typo_local"] is True and kept["shared_headers"]["used"] is True
    sub = tmp_path / "beside"
    sub.mkdir()
    redone, kept, _ = _shared_outcome(sub, "x.c:1:1: error: use of undeclared identifier 'MAX_PID'\nx.c:2:1: "
                                      "error: no member named 'st' in 'struct task_struct'\n", False, "plain\n",
                                      False, verify=False, pch=b"CPCH\x00task_struct\x00")
    assert redone == ["a"] and kept["shared_headers"]["redone"]


def test_verify_keeps_the_unshared_result_of_a_program_that_compiles_both_ways_but_differs(tmp_path):
    redone, kept, text = _shared_outcome(tmp_path, "clang -cc1 -include-pch x\nshared text\n", True,
                                         "clang -cc1 x\nplain text\n", True, verify=True)
    assert redone == ["a"] and text == "clang -cc1 x\nplain text\n"
    assert kept["shared_headers"]["differs"] == "compile.log" and not kept["shared_headers"]["used"]
    assert kept["timings"] == {"compile": 0.9, "shared_compile": 0.3}



# the shape of what clang 11 printed for a warning in nfsslower's headers in bcc-0.18@linux-5.10, had the
# PCH's set been its last two entries (the KBUILD_MODNAME guard, then linux/nfs_fs.h at the program's
# line 13): its header's name made up
SET_WARNING = """In file included from /tmp/shared-headers/3f0c77a1e6d4b2c5.h:4:
In file included from include/linux/nfs_fs.h:31:
include/linux/sunrpc/xdr.h:749:10: warning: result of comparison of constant 4611686018427387903 with expression of type '__u32' (aka 'unsigned int') is always false [-Wtautological-constant-out-of-range-compare]
        if (len > SIZE_MAX / sizeof(*p))
            ~~~ ^ ~~~~~~~~~~~~~~~~~~~~~
"""


def test_a_builds_warning_reads_as_the_programs_compile_prints_it():
    """clang names the #include line a warning's header came in by: the build's header line there, the
    program's line in its own compile. Translated, the block is the one a plain compile prints (so
    verify sets it aside); a block of bcc's own headers, or of another header, is left as it was."""
    from harness.guest.pch_fidelity import in_program
    guard = '#ifndef KBUILD_MODNAME\n#define KBUILD_MODNAME "bcc"\n#endif'
    block = in_program(SET_WARNING, "3f0c77a1e6d4b2c5", [guard, "#include <linux/nfs_fs.h>"], [12, 13])
    assert block == SET_WARNING.replace("/tmp/shared-headers/3f0c77a1e6d4b2c5.h:4:", "/virtual/main.c:13:")
    assert in_program(SET_WARNING, "other", [guard, "#include <linux/nfs_fs.h>"], [12, 13]) == SET_WARNING
    assert in_program(PCH_WARNINGS, "3f0c77a1e6d4b2c5", ["#include <linux/nfs_fs.h>"], [13]) == PCH_WARNINGS


# what clang 11 printed compiling bcc-0.26's xfsdist in bcc-0.18@linux-7.2 (recorded; its error has no
# include chain of its own: the warning before it, in the same header, printed it)
SAME_HEADER = """In file included from /virtual/main.c:6:
include/linux/fs.h:1302:27: warning: unknown attribute '__counted_by__' ignored [-Wunknown-attributes]
        unsigned char f_handle[] __counted_by(handle_bytes);
                                 ^
include/linux/compiler_types.h:376:47: note: expanded from macro '__counted_by'
# define __counted_by(member)           __attribute__((__counted_by__(member)))
                                                       ^
In file included from /virtual/main.c:6:
include/linux/fs.h:2438:2: warning: declaration does not declare anything [-Wmissing-declarations]
        struct __filename_head;
        ^
include/linux/fs.h:2442:1: error: static_assert failed due to requirement 'sizeof(struct filename) % 64 == 0'
"""


def test_an_error_right_after_a_warning_in_its_header_shares_that_warnings_include_chain():
    """clang prints a header's include chain once: xfsdist's fs.h error came in by the program's line 6
    (so a set holding that line fails there). An error in another header than the warning before it,
    printed without a chain, is where it is."""
    from harness.guest.pch_build import first_error
    where, error = first_error(SAME_HEADER)
    assert where == ("/virtual/main.c", 6) and "fs.h:2442:1: error: static_assert" in error
    other = SAME_HEADER.replace("include/linux/fs.h:2442:1: error", "include/linux/dcache.h:9:1: error")
    assert first_error(other)[0] == ("include/linux/dcache.h", 9)
    header = "/tmp/shared-headers/k.h"
    assert failing_include(SAME_HEADER.replace("/virtual/main.c:6:", header + ":2:"), header) == 2



def test_a_case_whose_lines_past_its_set_weigh_more_than_the_set_gets_a_pch_of_all_its_lines(tmp_path, monkeypatch):
    """bcc parses the headers past a PCH in each of its three passes. A case whose other #include lines
    reach more header bytes than its set's lines do gets a PCH of all of them (a set of its own, as a
    case sharing no prefix does); one that adds little keeps the set's. An own build that fails leaves
    the case on its set's PCH, and a later case whose lines reach the header it failed in is not built
    on its own. Each PCH still goes with the last case that takes it."""
    inc = tmp_path / "src" / "include"
    inc.mkdir(parents=True)
    (inc / "small.h").write_text("int small;\n" * 10)
    (inc / "heavy.h").write_text('#include "heavy_more.h"\n#include <small.h>\n')
    (inc / "heavy_more.h").write_text("int heavy;\n" * 30)          # reached through heavy.h only
    (inc / "light.h").write_text("int light;\n")
    (inc / "broken.h").write_text("int broken;\n" * 50)
    (inc / "reaches_broken.h").write_text("#include <broken.h>\n" + "int more;\n" * 50)
    small, heavy, light, broken = ("#include <%s.h>" % n for n in ("small", "heavy", "light", "broken"))
    texts = {"a": [small], "b": [small, light], "c": [small, heavy], "d": [small], "e": [small, broken],
             "f": [small, "#include <reaches_broken.h>"]}
    sharing, cases, builds = _with_builds(tmp_path, monkeypatch, texts, lambda lines, header: (
        "In file included from %s:2:\ninclude/broken.h:1:1: error: no\n" % header if broken in lines else None))
    sharing.cc1[json.dumps([])] = ["-fdebug-compilation-dir=%s" % (tmp_path / "src"), "-I", "include",
                                   "-isystem", "/virtual/include"]
    assert {sharing.plan[n][1] == [small] for n in texts} == {True}

    def compile_(name):
        case = sharing.before(dict(next(c for c in cases if c["id"] == name)))
        out = tmp_path / "out" / name
        out.mkdir(parents=True)
        (out / "result.json").write_text(json.dumps({"compiled": True, "timings": {"compile": 0.2}}))
        sharing.after(case, str(out), None, 10)
        return case, json.loads((out / "result.json").read_text())
    set_pch = compile_("a")[0]["pch"]
    case, result = compile_("b")          # light.h adds 11 bytes to the set's 110
    assert case["pch"] == set_pch and result["shared_headers"]["own_set"] == {"set_bytes": 110, "past_bytes": 11}
    case, result = compile_("c")          # heavy.h adds itself and heavy_more.h, not small.h again
    note = result["shared_headers"]
    assert builds == [[small], [small, heavy]] and case["pch"] != set_pch and note["key"] == set_key([small, heavy], [])
    assert note["own_set"] == {"set_bytes": 110, "past_bytes": 330 + len((inc / "heavy.h").read_text()), "used": True}
    assert result["timings"]["pch_build"] == 0.5 and result["timings"]["include_scan"] > 0
    assert not os.path.exists(case["pch"])          # its only case is done
    case, result = compile_("e")          # broken.h's own build fails: the set's PCH
    assert case["pch"] == set_pch and result["timings"]["own_pch_build"] == 1.5
    assert "used" not in result["shared_headers"]["own_set"] and os.path.exists(set_pch)
    case, result = compile_("f")          # reaches broken.h, where e's build failed: not built
    assert case["pch"] == set_pch and len(builds) == 3 and "own_pch_build" not in result["timings"]
    assert result["shared_headers"]["own_set"]["fails_in"] == str((inc / "broken.h").resolve())
    assert compile_("d")[0]["pch"] == set_pch and not os.path.exists(set_pch)


@pytest.mark.vm
def test_a_case_with_heavy_headers_past_its_set_compiles_on_a_pch_of_all_its_lines_byte_identical(tmp_path):
    """xdp_packet_bounds shares `uapi/linux/bpf.h` with socket_filter_len, then includes
    `linux/if_ether.h`, which reaches far more header bytes: it takes a PCH of both lines, and compiles
    on it exactly as without any (verify), in the real bcc-0.26@linux-6.1. Needs the images and root."""
    out, notes = compile_verified(tmp_path, [ROOT / "cases/no_rewrite/socket_filter_len.c",
                                             ROOT / "cases/no_rewrite/xdp_packet_bounds.c"])
    bounds, alone = notes["no_rewrite__xdp_packet_bounds"], notes["no_rewrite__socket_filter_len"]
    assert bounds["own_set"]["used"] and bounds["own_set"]["past_bytes"] > bounds["own_set"]["set_bytes"], bounds
    assert bounds["key"] == set_key(["#include <uapi/linux/bpf.h>", "#include <linux/if_ether.h>"], [])
    assert alone["key"] == set_key(["#include <uapi/linux/bpf.h>"], []) != bounds["key"]
    for note in (bounds, alone):
        assert note["used"] and note["verified"] and note["pch_build"] > 0, note
