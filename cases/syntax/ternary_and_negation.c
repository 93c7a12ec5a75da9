// CASE: dereferences under ?: and ! are rewritten without losing the operators
// ATTACH: pick kprobe re:^finish_task_switch(\.isra\.\d+)?$
#include <linux/sched.h>

int pick(struct pt_regs *ctx, struct task_struct *prev)
{
    int parentless = !prev->real_parent;  // expect-rewrite{{prev->real_parent}}
    return prev ? prev->pid : parentless; // expect-rewrite{{prev->pid}}
}
