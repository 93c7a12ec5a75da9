// CASE: dereferencing a u64 pointer returned by an array map lookup is map memory, not kernel memory
BPF_ARRAY(hits, u64, 4);

int bump(struct pt_regs *ctx)
{
    int idx = 2;
    u64 *v = hits.lookup(&idx);
    if (v == NULL)
        return 0;
    *v += 1;
    return *v & 1;
}
