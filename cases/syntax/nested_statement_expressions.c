// CASE: dereferences inside nested GNU statement expressions are rewritten in place
// ATTACH: nested kprobe do_sys_openat2
#include <linux/sched.h>

int nested(struct pt_regs *ctx)
{
    int v = ({
        struct task_struct *t = (struct task_struct *)bpf_get_current_task();
        ({ int inner = t->tgid;  // expect-rewrite{{t->tgid}}
           inner + t->pid; });   // expect-rewrite{{t->pid}}
    });
    return v;
}
