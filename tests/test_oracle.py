"""Twin and probe generation, and the verdict, from recorded observations and hand-made sites."""

from dataclasses import replace

import pytest

from harness.oracle import OFFSET_ID, PRELUDE, ROUND_ID, Coverage, OracleError, build, describe, judge
from harness.sites import Site, find_sites


def site(text, line, col, depth=0, value_type="int", address="", form="member"):
    end_col = col + len(text.encode())
    return Site(text=text, line=line, col=col, end_line=line, end_col=end_col, helper="bpf_probe_read",
                form=form, address=address or f"( void * ) & {text}", rewritten_line=line, depth=depth,
                value_type=value_type)


def body(program: str) -> str:
    """The program without the instrumentation, wherever build placed it."""
    assert program.count(PRELUDE) == 1
    return program.replace(PRELUDE, "", 1)


def test_the_instrumentation_follows_the_include_block_so_the_probe_keeps_the_case_include_set(recorded):
    """In split mode a program shares the precompiled headers of its #include block: the probe and twin
    must start with the case's own block, not with the prelude's #define."""
    from harness.guest.include_sets import include_lines
    case, obs, _ = recorded("tests/fixtures/cases/nested_chain.c")
    programs = build(case.text, find_sites(case.text, obs.rewritten))
    assert include_lines(case.text)
    for text in (programs.probe, programs.twin):
        assert include_lines(text) == include_lines(case.text)
        assert text.index(PRELUDE) > text.index(include_lines(case.text)[-1].split()[-1])
    odd = "static int f(void) { return bpf_get_prandom_u32(); }\n#include <linux/sched.h>\n" + case.text
    assert build(odd, find_sites(odd, obs.rewritten.replace(case.text, odd))).probe.startswith(PRELUDE)


def test_recorded_nested_chain_reads_bottom_up_and_offsets_every_site(recorded):
    """Nested sites are read first into temporaries; bcc's address of the outer site is evaluated with its
    nested read replaced by the twin's own (right) one, so the outer site gets an offset too."""
    case, obs, _ = recorded("tests/fixtures/cases/nested_chain.c")
    programs = build(case.text, find_sites(case.text, obs.rewritten))
    assert [(s.text, s.depth) for s in programs.sites] == [("t->real_parent->tgid", 0), ("t->real_parent", 1)]
    assert programs.no_offset == ("", "")
    line = body(programs.twin).splitlines()[6]
    inner = ("({ typeof(struct task_struct *) __hr; __builtin_memset(&__hr, 0, sizeof(__hr)); "
             "bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *)((void *)&(t->real_parent))); "
             f"u64 __ho = (u64)(( void * ) & t -> real_parent) - (u64)((void *)&(t->real_parent)); "
             f"__harness_record({2 | OFFSET_ID}, &__ho, sizeof(__ho)); __harness_record(2, &__hr, sizeof(__hr)); __hr; }})")
    assert f"typeof(struct task_struct *) __h2 = {inner};" in line
    # the outer site: the right address and bcc's own, both through the temporary
    assert "bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *)((void *)&(__h2->tgid)));" in line
    assert f"u64 __ho = (u64)(( void * ) & __h2 -> tgid) - (u64)((void *)&(__h2->tgid)); " \
           f"__harness_record({1 | OFFSET_ID}, &__ho, sizeof(__ho));" in line
    probe_line = body(programs.probe).splitlines()[6]
    assert "({ typeof(pid_t) __hr = (t->real_parent->tgid); __harness_record(1, &__hr, sizeof(__hr)); __hr; })" \
        in probe_line
    assert "__harness_record(2," not in programs.probe     # the probe records outermost sites only


def test_nested_read_inside_bcc_address_is_replaced_in_order():
    """bcc's ADDR of an outer site holds its nested reads as statement expressions: each becomes the twin's
    temporary for that nested site; a count that does not match leaves the site without an offset."""
    original = "int f(struct pt_regs *ctx, struct s *p) {\n  return p->q->arr[p->i];\n}\n"
    nested = "( { typeof ( struct q * ) _val ; bpf_probe_read ( & _val , sizeof ( _val ) , ( void * ) & p -> q ) ; _val ; } )"
    index = "( { typeof ( int ) _val ; bpf_probe_read ( & _val , sizeof ( _val ) , ( void * ) & p -> i ) ; _val ; } )"
    outer = site("p->q->arr[p->i]", 2, 10, form="subscript",
                 address=f"( void * ) ( ( & {nested} -> arr ) + ( {index} ) )")
    sites = [outer, site("p->q", 2, 10, depth=1, value_type="struct q *"), site("p->i", 2, 20, depth=1)]
    programs = build(original, sites)
    twin = body(programs.twin)
    assert programs.no_offset == ("", "", "")
    assert "u64 __ho = (u64)(( void * ) ( ( & __h2 -> arr ) + ( __h3 ) )) - " in twin
    assert "typeof(__h2) __hq;" in twin and "(void *)&(__h2->arr[__h3])" in twin
    short = build(original, [replace(outer, address="( void * ) ( ( & p -> q -> arr ) + ( 0 ) )")] + sites[1:])
    assert short.no_offset[0] == "bcc's address holds 0 nested read(s), the original 2"
    assert f"__harness_record({1 | OFFSET_ID}" not in short.twin and f"__harness_record({2 | OFFSET_ID}" in short.twin


def test_pointer_member_subscript_reads_the_pointer_first():
    """p->ptr[i]: the twin cannot take &(p->ptr[i]) (the kernel refuses the direct load of the pointer), so a
    member subscript chooses at compile time by the member's type: a pointer member is read explicitly
    and then indexed; an array member keeps &(E). The type test never names an external pointer."""
    original = "int f(struct pt_regs *ctx, struct fdtable *fdt) {\n  return fdt->fd[1] != 0;\n}\n"
    programs = build(original, [site("fdt->fd[1]", 2, 10, form="subscript", value_type="struct file *",
                                     address="( void * ) ( ( & fdt -> fd ) + ( 1 ) )")])
    twin = body(programs.twin)
    right = ("({ typeof(fdt) __hq; __builtin_choose_expr(__builtin_types_compatible_p(typeof(__hq->fd), "
             "typeof(&__hq->fd[0])), ({ u64 __hp = 0; bpf_probe_read_kernel(&__hp, sizeof(__hp), "
             "(void *)&(fdt->fd)); (void *)(__hp + (1) * sizeof(__hq->fd[0])); }), (void *)&(fdt->fd[1])); })")
    assert f"bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *)({right}));" in twin
    assert f"u64 __ho = (u64)(( void * ) ( ( & fdt -> fd ) + ( 1 ) )) - (u64)({right});" in twin
    # a member reached with '.' is typed through a pointer to its holder
    dotted = build("int f(struct pt_regs *ctx, struct sock *sk) {\n  return sk->a.b[2];\n}\n",
                   [site("sk->a.b[2]", 2, 10, form="subscript")])
    assert "typeof(&(sk -> a)) __hq;" in dotted.twin and "(void *)&(sk -> a.b)" in dotted.twin


def test_recorded_subscript_records_the_address_offset(recorded):
    case, obs, _ = recorded("tests/fixtures/cases/subscript_member_array.c")
    programs = build(case.text, find_sites(case.text, obs.rewritten))
    twin = body(programs.twin)
    assert "(void *)&(prev->comm[1])" in twin
    assert "u64 __ho = (u64)(( void * ) ( ( & prev -> comm ) + ( 1 ) )) - (u64)(({ typeof(prev) __hq;" in twin
    assert f"__harness_record({1 | OFFSET_ID}, &__ho, sizeof(__ho));" in twin


def test_casts_and_struct_valued_sites():
    original = ("int f(struct pt_regs *ctx, void *p) {\n"
                "  struct pair v = ((struct holder *)p)->pair;\n"
                "  return *(int *)p;\n}\n")
    sites = [site("((struct holder *)p)->pair", 2, 19, value_type="struct pair"),
             site("*(int *)p", 3, 10, form="deref", address="( void * ) ( int * ) p")]
    programs = build(original, sites)
    twin = body(programs.twin).splitlines()
    assert "typeof(struct pair) __hr;" in twin[1]
    assert "(void *)&(((struct holder *)p)->pair)" in twin[1]
    # a dereference is read at its pointer: bcc would rewrite the * inside &(*(int *)p)
    assert "(void *)(((int *)p))" in twin[2] and "&(*" not in twin[2]
    assert "u64 __ho = (u64)(( void * ) ( int * ) p) - (u64)(((int *)p));" in twin[2]
    assert "__harness_record(2, &__hr" in twin[2]


def test_unplaced_or_untyped_sites_cannot_be_judged():
    original = "int f(struct pt_regs *ctx, int *p) {\n  return *p;\n}\n"
    with pytest.raises(OracleError, match="no usable type"):
        build(original, [site("*p", 2, 10, value_type="")])
    with pytest.raises(OracleError, match="could not be placed"):
        build(original, [Site("*p", 0, 0, 0, 0, "bpf_probe_read", "deref", "p", 1, 0, "int")])
    with pytest.raises(OracleError, match="no rewrite sites"):
        build(original, [])


def offset(n: int) -> bytes:
    return n.to_bytes(8, "little", signed=True)


def test_the_address_is_the_proof():
    """A non-zero offset is a wrong read even when the values agree; offset 0 is right even when they
    differ (the value changed between the two programs' reads); only without an offset do values decide."""
    original = "int f(struct pt_regs *ctx, struct s *p) {\n  return p->a + p->b + p->c + p->d;\n}\n"
    programs = build(original, [site("p->a", 2, 10), site("p->b", 2, 17), site("p->c", 2, 24), site("p->d", 2, 31)])
    same, other = b"\0\0\0\0", b"\x61\0\0\0"
    verdicts = judge(programs, {1: same, 2: same, 3: same, 4: same},
                     {1: same, 1 | OFFSET_ID: offset(15), 2: other, 2 | OFFSET_ID: offset(0), 3: other, 4: same})
    assert [(v.basis, v.wrong, v.volatile) for v in verdicts] == [
        ("address", True, False), ("address", False, True), ("value", True, False), ("value", False, False)]
    assert verdicts[0].offset == 15 and verdicts[2].offset is None
    text = describe(verdicts[0])
    assert "bcc's address is +15 bytes off (the values happen to agree)" in text
    assert "judged by value only" in describe(verdicts[2])
    # both programs see one fixed "random" number, so a random choice cannot split them
    assert "#define bpf_get_prandom_u32()" in programs.probe and "#define bpf_get_prandom_u32()" in programs.twin


def test_second_trigger_round_gives_a_value_only_site_another_chance():
    original = "int f(struct pt_regs *ctx, struct s *p) {\n  return p->a;\n}\n"
    programs = build(original, [site("p->a", 2, 10)])
    first, second = b"\x01\0\0\0", b"\x02\0\0\0"
    agree_then_differ = judge(programs, {1: first, 1 | ROUND_ID: second}, {1: first, 1 | ROUND_ID: first})
    assert agree_then_differ[0].basis == "value" and agree_then_differ[0].wrong
    assert describe(agree_then_differ[0]).startswith("p->a (line 2) via `( void * ) & p->a`: rewrite read 02000000")
    wrong_on_round_two = judge(programs, {1: first, 1 | ROUND_ID: first},
                               {1: first, 1 | OFFSET_ID: offset(0), 1 | ROUND_ID: first,
                                1 | ROUND_ID | OFFSET_ID: offset(8)})
    assert wrong_on_round_two[0].wrong and wrong_on_round_two[0].offset == 8
    # the round is set by the guest in the config map's second slot and lands in the recorded id
    assert "BPF_ARRAY(__harness_cfg, u32, 2);" in programs.twin and f"site |= {hex(ROUND_ID)};" in programs.twin


def test_coverage_counts_sites_by_how_they_were_judged():
    original = "int f(struct pt_regs *ctx, struct s *p) {\n  return p->q->a + p->b + p->c;\n}\n"
    nested = "( { typeof ( struct q * ) _val ; bpf_probe_read ( & _val , 8 , ( void * ) & p -> q ) ; _val ; } )"
    sites = [site("p->q->a", 2, 10, address=f"( void * ) & {nested} -> a"), site("p->q", 2, 10, depth=1),
             site("p->b", 2, 20), site("p->c", 2, 27)]
    programs = build(original, sites)
    v = b"\x07\0\0\0"
    verdicts = judge(programs, {1: v, 3: v}, {1: v, 1 | OFFSET_ID: offset(0), 2: v, 3: v})
    cover = Coverage()
    cover.add_verdicts(verdicts)
    cover.add_unjudged(2, "the twin does not compile or load")
    assert (cover.by_address, cover.by_value) == (1, 1)
    assert cover.not_judged == {"nested site, no offset recorded": 1, "not evaluated on the trigger's events": 1,
                                "the twin does not compile or load": 2}
    assert cover.summary() == "1 by address, 1 by value only, 4 not judged (16% by address)"
    assert Coverage.from_json(cover.to_json()) == cover


def test_an_operand_of_sizeof_or_typeof_cannot_be_judged():
    """Never evaluated, so neither program records a value: 'cannot judge', not a silent trigger."""
    for line in ("  return sizeof(*p);", "  return sizeof p->a;", "  typeof(p->a) x = 0; return x;"):
        original = "int f(struct pt_regs *ctx, struct s *p) {\n" + line + "\n}\n"
        text = "*p" if "*p" in line else "p->a"
        col = line.index(text) + 1
        with pytest.raises(OracleError, match="never evaluated"):
            build(original, [site(text, 2, col, form="deref" if text == "*p" else "member")])


def test_triage_reports_get_attach_points_for_the_oracle(tmp_path):
    """A report's kprobe__/kretprobe__ functions (and --attach) become ATTACH lines of its report-only case,
    so the oracle runs it like any other case that loads."""
    from harness.classify import Result
    from harness.observation import FunctionLoad, Observation
    from harness.oracle_stage import eligible
    from harness.outcome import Outcome
    from harness.triage import as_case
    text = ("#include <net/sock.h>\n"
            "int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk) { return sk->sk_rcvbuf; }\n"
            "int kretprobe__tcp_v4_connect(struct pt_regs *ctx) { return 0; }\n"
            "int helper_probe(struct pt_regs *ctx) { return 0; }\n")
    case = as_case(text, "report", tmp_path, ["helper_probe kprobe do_sys_openat2"])
    assert case.report_only
    assert sorted(tuple(a) for a in case.attach) == [("helper_probe", "kprobe", "do_sys_openat2"),
                                                ("kprobe__tcp_v4_connect", "kprobe", "tcp_v4_connect"),
                                                ("kretprobe__tcp_v4_connect", "kretprobe", "tcp_v4_connect")]
    assert case.text.splitlines()[1] == text.splitlines()[1]       # the report's lines stay where they were
    from harness.oracle_stage import program_entry       # its probe and twin compile in the untrusted sandbox
    assert program_entry(case, {"probe": "p.c"}, [])["untrusted"] is True
    obs = Observation(case.id, "cell", "ok", compiled=True, rewritten="",
                      functions=(FunctionLoad("kprobe__tcp_v4_connect", "", True),))
    loaded = Result(case.id, "cell", Outcome.PASS, "loads", actual_sites=(site("sk->sk_rcvbuf", 2, 72),))
    assert eligible(case, obs, loaded) == ""
    assert "no ATTACH" in eligible(as_case("int f(struct pt_regs *ctx) { return 0; }\n", "plain", tmp_path),
                                   obs, loaded)


def test_an_oracle_boot_that_left_no_result_is_harness_trouble(tmp_path):
    """A kernel that panicked at boot (seen under load: 'IO-APIC + timer doesn't work') leaves no oracle.json:
    HARNESS, never a verdict; a twin the kernel refuses leaves the sites not judged, with the reason."""
    import json
    from harness.cases import parse_case
    from harness.oracle_stage import _verdict
    from harness.outcome import Outcome
    path = tmp_path / "c.c"
    path.write_text("// CASE: c\n// ATTACH: f kprobe do_sys_openat2\nint f(struct pt_regs *ctx, struct s *p) {\n"
                    "  return p->a;\n}\n")
    case = parse_case(path, tmp_path)
    programs = build(case.text, [site("p->a", 4, 10)])
    note, result, cover = _verdict(case, programs, tmp_path / "out", "ok", "")
    assert result.outcome is Outcome.HARNESS and note.startswith("harness: no oracle result")
    assert cover.not_judged == {"harness: no oracle result": 1}
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "oracle.json").write_text(json.dumps({"error": "twin does not compile or load: R1 ...",
                                                              "stage": "compile", "values": {}}))
    note, result, cover = _verdict(case, programs, tmp_path / "out", "ok", "")
    assert result is None and note.startswith("cannot judge: twin does not compile or load")
    assert cover.not_judged == {"the twin does not compile or load": 1}
    error = ("probe: attaching f to kretprobe tcp_sendpage failed: cannot attach f to kretprobe tcp_sendpage: "
             "tcp_sendpage: [Errno 2] perf_event_open: No such file or directory")   # linux 6.12, recorded
    for missing, words in ((None, "harness: probe: attaching f"),
                           ("kretprobe tcp_sendpage", "not judged: this kernel has no kretprobe tcp_sendpage (")):
        (tmp_path / "out" / "oracle.json").write_text(json.dumps({"error": error, "stage": "attach", "values": {},
                                                                  **({"missing": missing} if missing else {})}))
        note, result, cover = _verdict(case, programs, tmp_path / "out", "ok", "")
        assert result is None and note.startswith(words), note
    assert cover.not_judged == {"attach point not in this kernel": 1}


def test_a_report_the_trigger_never_reaches_is_not_judged_not_harness_trouble(tmp_path, monkeypatch):
    """A report-only case attaches where the report does (tcp_v4_connect here) while the trigger opens a file:
    no value recorded says nothing about the harness, so the class stays and the note says why."""
    import json
    from harness import oracle_stage
    from harness.cases import parse_case
    from harness.outcome import Outcome
    monkeypatch.setattr(oracle_stage, "_check_rewrites", lambda *args: "")
    text = ("int f(struct pt_regs *ctx, struct s *p) {\n  return p->a;\n}\n")
    silent = json.dumps({"stage": "done", "values": {"probe": {}, "twin": {}}})
    for name, header, harness_trouble in (("case", "// CASE: c\n", True),
                                          ("report", "// CASE: r\n// REPORT-ONLY\n", False)):
        path = tmp_path / f"{name}.c"
        path.write_text(text + header + "// ATTACH: f kprobe tcp_v4_connect\n")
        case = parse_case(path, tmp_path)
        (tmp_path / name).mkdir()
        (tmp_path / name / "oracle.json").write_text(silent)
        programs = build(case.text, [site("p->a", 2, 10)])
        note, result, _ = oracle_stage._verdict(case, programs, tmp_path / name, "ok", "")
        if harness_trouble:
            assert result.outcome is Outcome.HARNESS and "did not fire" in note
        else:
            assert result is None
            assert note.startswith("not judged: the open trigger never reached the report's ATTACH points "
                                   "(kprobe tcp_v4_connect)"), note


def test_attach_points_are_looked_up_in_the_running_kernel():
    """The guest's check, run here against the host's own kernel (/proc/kallsyms and tracefs)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "harness" / "guest"))
    from programs import attach_point_missing
    with open("/proc/kallsyms") as f:
        present = next(fields[2] for fields in map(str.split, f) if fields[1] in "tT")
    assert not attach_point_missing("kprobe", present) and not attach_point_missing("kretprobe", present)
    assert attach_point_missing("kprobe", "harness_fixture_no_such_function")
    assert attach_point_missing("tracepoint", "harness:no_such_event")
    assert not attach_point_missing("kprobe", "re:anything")       # a pattern: bcc's own error says enough


def test_a_kprobe_regex_is_resolved_once_per_run_by_the_cells_bcc(monkeypatch):
    """bcc resolves re: targets by reading all of kallsyms in Python (2-4 s under TCG): the runner does
    it once per regex before its children fork, with the cell's own bcc, for the cases with bundles
    (guest mode attaches through bcc's own attach_kprobe). A regex bcc cannot resolve is left to the
    case's own attach."""
    import sys
    import types
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "harness" / "guest"))
    import programs
    asked = []

    def get_kprobe_functions(regex):
        asked.append(regex)
        if regex == b"^broken(":
            raise RuntimeError("bad regex")
        return {b"finish_task_switch.isra.0", b"finish_task_switch"}
    monkeypatch.setitem(sys.modules, "bcc", types.SimpleNamespace(BPF=types.SimpleNamespace(
        get_kprobe_functions=staticmethod(get_kprobe_functions))))
    monkeypatch.setattr(programs, "KPROBE_MATCHES", {})
    sched = ("count", "kprobe", "re:^finish_task_switch(\\.isra\\.\\d+)?$")
    cases = [{"bundles": {"probe": "b"}, "attach": [sched]}, {"bundles": {"probe": "b"}, "attach": [sched]},
             {"attach": [("other", "kprobe", "re:^guest_mode_only$")]},
             {"bundles": {"probe": "b"}, "attach": [("bad", "kretprobe", "re:^broken("),
                                                    ("tp", "tracepoint", "sched:sched_switch")]}]
    programs.resolve_ahead(cases)
    assert asked == [sched[2][3:].encode(), b"^broken("]
    assert programs.kprobe_functions(sched[2]) == ["finish_task_switch", "finish_task_switch.isra.0"]
    assert len(asked) == 2      # a child's attach takes what the runner resolved
    with pytest.raises(RuntimeError):
        programs.kprobe_functions("re:^broken(")    # the case's own attach meets the error
