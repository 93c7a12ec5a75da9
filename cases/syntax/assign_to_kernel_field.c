// CASE: the left-hand side of an assignment to a kernel field is not a read and must not be rewritten
// expect-load: reject invalid-mem-access
#include <linux/sched.h>

int clobber(struct pt_regs *ctx, struct task_struct *prev)
{
    prev->exit_code = 0;
    return 0;
}
