// CASE: the current task's tgid through bpf_get_current_task(), a plain member read
// ATTACH: current_tgid kprobe do_sys_openat2
#include <linux/sched.h>

int current_tgid(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return t->tgid;  // expect-rewrite{{t->tgid}}
}
