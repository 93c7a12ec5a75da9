// CASE: prev->pid++ writes kernel memory: it must not become an rvalue probe read, and cannot load
// expect-load: reject invalid-mem-access
#include <linux/sched.h>

int bump_pid(struct pt_regs *ctx, struct task_struct *prev)
{
    prev->pid++;
    return 0;
}
