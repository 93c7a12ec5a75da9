// CASE: a tracepoint program counts the trigger's openat calls; args-> is read directly, not rewritten
// TRIGGER: open
// EXPECT-MAP: opens[0] >= 1
#include <linux/sched.h>

BPF_ARRAY(opens, u64, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    char comm[16];
    bpf_get_current_comm(&comm, sizeof(comm));
    if (comm[0] != 'h' || comm[8] != 't' || comm[11] != 'g' || args->dfd == 12345)
        return 0;
    int zero = 0;
    u64 *n = opens.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}
