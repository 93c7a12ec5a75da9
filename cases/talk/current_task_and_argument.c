// CASE: talk slide "sources of external pointers": bpf_get_current_task() and the kprobe argument are both kernel memory
// ATTACH: count_sched kprobe re:^finish_task_switch(\.isra\.\d+)?$
#include <linux/sched.h>

int count_sched(struct pt_regs *ctx, struct task_struct *prev)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    return task->pid != 1 && prev->pid;  // expect-rewrite{{task->pid}} expect-rewrite{{prev->pid}}
}
