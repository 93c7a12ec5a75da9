// CASE: a stack pointer to an external pointer: (*pp)->tgid is a probe read, *pp itself is a stack read
// ATTACH: via_pp kprobe do_sys_openat2
#include <linux/sched.h>

int via_pp(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct task_struct **pp = &t;
    return (*pp)->tgid;  // expect-rewrite{{(*pp)->tgid}}
}
