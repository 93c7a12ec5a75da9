// CASE: a pointer loaded from a kernel struct into a local is itself external
// ATTACH: parent_local kprobe do_sys_openat2
#include <linux/sched.h>

int parent_local(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct task_struct *p = t->real_parent;  // expect-rewrite{{t->real_parent}}
    return p->tgid;  // expect-rewrite{{p->tgid}}
}
