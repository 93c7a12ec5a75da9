"""Twin and probe generation, and the verdict, from recorded observations and hand-made sites."""

import pytest

from harness.oracle import OFFSET_ID, OracleError, build, judge
from harness.sites import Site, find_sites


def site(text, line, col, depth=0, value_type="int", address="", form="member"):
    end_col = col + len(text.encode())
    return Site(text=text, line=line, col=col, end_line=line, end_col=end_col, helper="bpf_probe_read",
                form=form, address=address or f"( void * ) & {text}", rewritten_line=line, depth=depth,
                value_type=value_type)


def body(program: str) -> str:
    return program.split("/* --- end of instrumentation --- */\n", 1)[1]


def test_recorded_nested_chain_reads_bottom_up(recorded):
    case, obs, _ = recorded("tests/fixtures/cases/nested_chain.c")
    programs = build(case.text, find_sites(case.text, obs.rewritten))
    line = body(programs.twin).splitlines()[6]
    inner = ("({ typeof(struct task_struct *) __hr; __builtin_memset(&__hr, 0, sizeof(__hr)); "
             "bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *)&(t->real_parent)); __hr; })")
    assert f"bpf_probe_read_kernel(&__hr, sizeof(__hr), (void *)&({inner}->tgid));" in line
    assert "__harness_record(1, &__hr, sizeof(__hr))" in line
    assert "u64 __ho" not in line      # no offset: bcc's address holds a nested read
    probe_line = body(programs.probe).splitlines()[6]
    assert "({ typeof(pid_t) __hr = (t->real_parent->tgid); __harness_record(1, &__hr, sizeof(__hr)); __hr; })" \
        in probe_line
    assert [s.text for s in programs.sites] == ["t->real_parent->tgid"]


def test_recorded_subscript_records_the_address_offset(recorded):
    case, obs, _ = recorded("tests/fixtures/cases/subscript_member_array.c")
    programs = build(case.text, find_sites(case.text, obs.rewritten))
    twin = body(programs.twin)
    assert "(void *)&(prev->comm[1])" in twin
    assert f"u64 __ho = (u64)(( void * ) ( ( & prev -> comm ) + ( 1 ) )) - (u64)&(prev->comm[1]); " \
           f"__harness_record({1 | OFFSET_ID}, &__ho, sizeof(__ho));" in twin


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
    assert "(void *)((int *)p)" in twin[2] and "&(*" not in twin[2]
    assert "__harness_record(2, &__hr" in twin[2]


def test_unplaced_or_untyped_sites_cannot_be_judged():
    original = "int f(struct pt_regs *ctx, int *p) {\n  return *p;\n}\n"
    with pytest.raises(OracleError, match="no usable type"):
        build(original, [site("*p", 2, 10, value_type="")])
    with pytest.raises(OracleError, match="could not be placed"):
        build(original, [Site("*p", 0, 0, 0, 0, "bpf_probe_read", "deref", "p", 1, 0, "int")])
    with pytest.raises(OracleError, match="no rewrite sites"):
        build(original, [])


def test_judge_compares_bytes_and_reads_the_offset():
    original = "int f(struct pt_regs *ctx, struct s *p) {\n  return p->a + p->b;\n}\n"
    programs = build(original, [site("p->a", 2, 10), site("p->b", 2, 17)])
    verdicts = judge(programs, {1: b"\x01\0\0\0", 2: b"\x00\0\0\0"},
                     {1: b"\x01\0\0\0", 2: b"\x61\0\0\0", 2 | OFFSET_ID: (15).to_bytes(8, "little")})
    assert [v.wrong for v in verdicts] == [False, True]
    assert verdicts[1].offset == 15 and verdicts[0].offset is None


def test_a_value_that_changed_at_the_right_address_is_not_a_wrong_read():
    """Twin offset 0 proves bcc read the original's address: a difference is the value changing between
    the two programs' reads (a counter, a random choice), not a wrong read; without an offset it still is."""
    original = "int f(struct pt_regs *ctx, struct s *p) {\n  return p->a + p->b;\n}\n"
    programs = build(original, [site("p->a", 2, 10), site("p->b", 2, 17)])
    zero = (0).to_bytes(8, "little")
    verdicts = judge(programs, {1: b"\x01\0\0\0", 2: b"\x02\0\0\0"},
                     {1: b"\x05\0\0\0", 1 | OFFSET_ID: zero, 2: b"\x03\0\0\0"})
    assert [(v.wrong, v.volatile) for v in verdicts] == [(False, True), (True, False)]
    # both programs see one fixed "random" number, so a random choice cannot split them
    assert "#define bpf_get_prandom_u32()" in programs.probe and "#define bpf_get_prandom_u32()" in programs.twin


def test_an_operand_of_sizeof_or_typeof_cannot_be_judged():
    """Never evaluated, so neither program records a value: 'cannot judge', not a silent trigger."""
    for line in ("  return sizeof(*p);", "  return sizeof p->a;", "  typeof(p->a) x = 0; return x;"):
        original = "int f(struct pt_regs *ctx, struct s *p) {\n" + line + "\n}\n"
        text = "*p" if "*p" in line else "p->a"
        col = line.index(text) + 1
        with pytest.raises(OracleError, match="never evaluated"):
            build(original, [site(text, 2, col, form="deref" if text == "*p" else "member")])
