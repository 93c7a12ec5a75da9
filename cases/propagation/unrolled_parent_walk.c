// CASE: a #pragma unroll loop walking real_parent reassigns the external pointer on each iteration
// ATTACH: walk_up kprobe do_sys_openat2
#include <linux/sched.h>

int walk_up(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    int i;
#pragma unroll
    for (i = 0; i < 3; i++)
        t = t->real_parent;  // expect-rewrite{{t->real_parent}}
    return t->tgid;  // expect-rewrite{{t->tgid}}
}
