// CASE: comparing and testing kernel pointers without dereferencing them reads no kernel memory
#include <linux/sched.h>

int same_task(struct pt_regs *ctx, struct task_struct *prev, struct task_struct *next)
{
    if (!prev || !next)
        return 0;
    return prev == next;
}
