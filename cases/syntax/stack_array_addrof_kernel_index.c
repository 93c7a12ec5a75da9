// CASE: &buckets[prev->pid & 7] takes a stack address, but its kernel index must still be read
#include <linux/sched.h>

int slot_of(struct pt_regs *ctx, struct task_struct *prev)
{
    u8 buckets[8] = {};
    u8 *slot = &buckets[prev->pid & 7];  // expect-rewrite{{prev->pid}}
    *slot = 1;
    return buckets[0];
}
