// CASE: a ternary choosing between two external pointers yields an external pointer
// ATTACH: pick_task kprobe do_sys_openat2
#include <linux/sched.h>

int pick_task(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u32 want_parent = bpf_get_prandom_u32() & 1;
    struct task_struct *p = want_parent ? t->real_parent : t;  // expect-rewrite{{t->real_parent}}
    return p->tgid;  // expect-rewrite{{p->tgid}}
}
