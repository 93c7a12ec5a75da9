// CASE: a kretprobe reads the return value with PT_REGS_RC from its context, no probe read
// ATTACH: open_ret kretprobe do_sys_openat2
// PROG: open_ret kretprobe
#include <linux/sched.h>

BPF_HASH(fails, u32, u64);

int open_ret(struct pt_regs *ctx)
{
    long ret = PT_REGS_RC(ctx);
    if (ret >= 0)
        return 0;
    u32 key = 0;
    u64 zero = 0, *n = fails.lookup_or_try_init(&key, &zero);
    if (n)
        (*n)++;
    return 0;
}
