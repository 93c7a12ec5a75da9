// CASE: talk slide "count_sched" before the rewriter: the hand-written bpf_probe_read is left as it is
// ATTACH: count_sched kprobe re:^finish_task_switch(\.isra\.\d+)?$
#include <linux/sched.h>

int count_sched(struct pt_regs *ctx, struct task_struct *prev)
{
    pid_t p = 0;
    bpf_probe_read(&p, sizeof(p), (u64)&prev->pid);
    return p != -1;
}
