// CASE: typeof(prev->pid) and __typeof__(prev->real_parent) only name types and must not be rewritten
// ATTACH: types kprobe re:^finish_task_switch(\.isra\.\d+)?$
#include <linux/sched.h>

int types(struct pt_regs *ctx, struct task_struct *prev)
{
    typeof(prev->pid) p = 5;
    __typeof__(prev->real_parent) parent = 0;
    return p + (parent == 0);
}
