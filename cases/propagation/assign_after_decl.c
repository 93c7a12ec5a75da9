// CASE: a pointer declared without initializer and assigned later from bpf_get_current_task() is external
// ATTACH: late_assign kprobe do_sys_openat2
#include <linux/sched.h>

int late_assign(struct pt_regs *ctx)
{
    struct task_struct *t;
    t = (struct task_struct *)bpf_get_current_task();
    return t->tgid;  // expect-rewrite{{t->tgid}}
}
