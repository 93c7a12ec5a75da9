// CASE: a pointer to a kernel pointer passed to a helper: *pp is stack, (*pp)->pid is kernel memory
// ATTACH: pid_via_pp kprobe do_sys_openat2
#include <linux/sched.h>

static inline int pid_of(struct task_struct **pp)
{
    return (*pp)->pid;  // expect-rewrite{{(*pp)->pid}}
}

int pid_via_pp(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return pid_of(&t);
}
