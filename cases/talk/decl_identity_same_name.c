// CASE: talk slide "what identifies a variable": a helper's local named task is stack memory, the argument task is not
// ATTACH: count_sched kprobe re:^finish_task_switch(\.isra\.\d+)?$
#include <linux/sched.h>
#include <linux/dcache.h>

static inline int fill_task(void)
{
    struct qstr task = {};
    struct qstr *tp = &task;
    task.len = 3;
    return tp->len;
}

int count_sched(struct pt_regs *ctx, struct task_struct *task)
{
    return fill_task() + (task->pid != -1);  // expect-rewrite{{task->pid}}
}
