"""Site alignment: probe reads in bcc's rewritten text, placed on the original program."""

from harness.sites import find_sites

PRE = "({ typeof(%s) _val; __builtin_memset(&_val, 0, sizeof(_val)); %s(&_val, sizeof(_val), %s); _val; })"


def read(addr, typ="int", helper="bpf_probe_read"):
    return PRE % (typ, helper, addr)


def test_recorded_rewrites_land_on_original_columns(recorded):
    case, obs, _ = recorded("cases/seed/sock_in_map.c")
    sites = find_sites(case.text, obs.rewritten)
    assert [(s.line, s.col, s.text, s.form, s.helper) for s in sites] == [
        (23, 17, "(*skpp)->__sk_common.skc_dport", "member", "bpf_probe_read")]
    assert "bpf_probe_read" in obs.rewritten.splitlines()[sites[0].rewritten_line - 1]


def test_recorded_nested_chain(recorded):
    case, obs, _ = recorded("tests/fixtures/cases/nested_chain.c")
    sites = find_sites(case.text, obs.rewritten)
    assert [(s.text, s.depth) for s in sites] == [("t->real_parent->tgid", 0), ("t->real_parent", 1)]
    assert sites[0].col == sites[1].col == 12


def test_recorded_subscript_of_member_array(recorded):
    case, obs, _ = recorded("tests/fixtures/cases/subscript_member_array.c")
    (site,) = find_sites(case.text, obs.rewritten)
    assert (site.text, site.form) == ("prev->comm[1]", "subscript")
    assert site.address.replace(" ", "") == "(void*)((&prev->comm)+(1))"


def test_forms_of_every_release():
    original = "int f(struct pt_regs *ctx, struct s *p) {\n  return *p->q + p->a[2] + q[3] + *(p->r + 1);\n}\n"
    inner = read("(void *)&p->q", "int *")
    rewritten = ("int f(struct pt_regs *ctx) {\n struct s *p = (struct s *)ctx->di;\n  return "
                 + read("(u64)" + inner) + " + " + read("(u64)((&p->a) + (2))") + " + "
                 + read("(void *)((q) + (3))", helper="bpf_probe_read_kernel") + " + "
                 + read("(void *)(" + read("(void *)&p->r", "int *") + " + 1)") + ";\n}\n")
    sites = find_sites(original, rewritten)
    got = [(s.text, s.form, s.depth, s.line, s.col) for s in sites]
    assert got == [
        ("*p->q", "deref", 0, 2, 10),
        ("p->q", "member", 1, 2, 11),
        ("p->a[2]", "subscript", 0, 2, 18),
        ("q[3]", "subscript", 0, 2, 28),
        ("*(p->r + 1)", "deref", 0, 2, 35),
        ("p->r", "member", 1, 2, 37),
    ]
    assert sites[3].helper == "bpf_probe_read_kernel"


def test_user_probe_read_is_not_a_site():
    original = "int f(struct pt_regs *ctx, struct s *p) {\n  int v; bpf_probe_read(&v, sizeof(v), &p->a);\n  return v;\n}\n"
    assert find_sites(original, original) == []


def test_site_spanning_lines():
    original = "int f(struct pt_regs *ctx, struct s *p) {\n  return p\n      ->a;\n}\n"
    rewritten = "int f(struct pt_regs *ctx) {\n  return " + read("(void *)&p\n      ->a") + ";\n}\n"
    (site,) = find_sites(original, rewritten)
    assert (site.line, site.end_line, site.text) == (2, 3, "p ->a")


def test_a_patched_rewriter_that_casts_the_member_array_base_still_names_the_site():
    """docs/findings/array-member-subscript.patch writes `((T *)&t->comm) + (1)`: the site is t->comm[1]."""
    from harness.sites import find_sites
    original = "int f(struct task_struct *t)\n{\n    char c = t->comm[1];\n    return c;\n}\n"
    rewritten = original.replace("t->comm[1]", "({ typeof(char) _val; __builtin_memset(&_val, 0, sizeof(_val)); "
                                 "bpf_probe_read(&_val, sizeof(_val), (void *)(((typeof(char) *)&t->comm) + (1))); "
                                 "_val; })")
    (site,) = find_sites(original, rewritten)
    assert (site.text, site.form, site.line) == ("t->comm[1]", "subscript", 3)
    assert site.address == "( void * ) ( ( ( typeof ( char ) * ) & t -> comm ) + ( 1 ) )"
