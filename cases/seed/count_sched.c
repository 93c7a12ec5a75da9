// CASE: a kprobe argument is kernel memory: reading prev->pid needs a probe read
// ATTACH: count_sched kprobe re:^finish_task_switch(\.isra\.\d+)?$
#include <linux/sched.h>

int count_sched(struct pt_regs *ctx, struct task_struct *prev)
{
    return prev->pid != -1;  // expect-rewrite{{prev->pid}}
}
