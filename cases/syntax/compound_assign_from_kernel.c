// CASE: compound assignments and increments of locals read kernel fields on their right-hand side only
// ATTACH: sum_ids kprobe do_sys_openat2
#include <linux/sched.h>

int sum_ids(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u64 acc = 1;
    acc += t->pid;   // expect-rewrite{{t->pid}}
    acc ^= t->tgid;  // expect-rewrite{{t->tgid}}
    acc <<= t->prio & 3;  // expect-rewrite{{t->prio}}
    return acc;
}
