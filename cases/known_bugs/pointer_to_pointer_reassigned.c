// CASE: a stack slot holding a kernel pointer, reached through two pointer-to-pointer variables
// ATTACH: two_levels kprobe do_sys_openat2
#include <linux/sched.h>

int two_levels(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct task_struct **a, **b = &t;
    a = &t;
    return (*a)->pid + (*b)->tgid;  // expect-rewrite{{(*a)->pid}} expect-rewrite{{(*b)->tgid}}
}
