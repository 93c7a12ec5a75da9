// CASE: dereferences under ?: and ! are rewritten without losing the operators
#include <linux/sched.h>

int pick(struct pt_regs *ctx, struct task_struct *prev)
{
    int parentless = !prev->real_parent;  // expect-rewrite{{prev->real_parent}}
    return prev ? prev->pid : parentless; // expect-rewrite{{prev->pid}}
}
