// CASE: sizeof(prev->comm) and sizeof(*prev) are unevaluated and must not be rewritten
// ATTACH: sizes kprobe re:^finish_task_switch(\.isra\.\d+)?$
#include <linux/sched.h>

int sizes(struct pt_regs *ctx, struct task_struct *prev)
{
    u64 a = sizeof(prev->comm);
    u64 b = sizeof(*prev) > 1000;
    u64 c = sizeof prev->pid;
    return a + b + c;
}
