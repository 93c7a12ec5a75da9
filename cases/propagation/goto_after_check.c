// CASE: an external pointer used after a goto label keeps needing probe reads on both paths
// ATTACH: goto_paths kprobe do_sys_openat2
#include <linux/sched.h>

int goto_paths(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    int v = 0;
    if (t->flags & PF_KTHREAD)  // expect-rewrite{{t->flags}}
        goto out;
    v = t->pid;  // expect-rewrite{{t->pid}}
out:
    return v + t->prio;  // expect-rewrite{{t->prio}}
}
