// CASE: an external pointer copied through two locals keeps needing probe reads; the copies themselves do not
// ATTACH: copy_chain kprobe do_sys_openat2
#include <linux/sched.h>

int copy_chain(struct pt_regs *ctx)
{
    struct task_struct *a = (struct task_struct *)bpf_get_current_task();
    struct task_struct *b = a;
    struct task_struct *c;
    c = b;
    return c->pid;  // expect-rewrite{{c->pid}}
}
