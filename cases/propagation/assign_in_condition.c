// CASE: an external pointer assigned inside an if condition, then dereferenced in the branch
// ATTACH: cond_assign kprobe do_sys_openat2
#include <linux/sched.h>

int cond_assign(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct task_struct *p;
    if ((p = t->group_leader) != 0)  // expect-rewrite{{t->group_leader}}
        return p->pid;  // expect-rewrite{{p->pid}}
    return 0;
}
