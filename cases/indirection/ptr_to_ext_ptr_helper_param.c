// CASE: a helper taking a pointer to an external pointer (called with &t) dereferences it once on the stack
// ATTACH: pp_helper kprobe do_sys_openat2
#include <linux/sched.h>

static inline u32 tgid_through(struct task_struct **pp)
{
    return (*pp)->tgid;  // expect-rewrite{{(*pp)->tgid}}
}

int pp_helper(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return tgid_through(&t);
}
