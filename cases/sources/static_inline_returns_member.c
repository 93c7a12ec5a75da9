// CASE: a helper that returns a pointer read out of kernel memory (t->real_parent), called inline in a chain
// ATTACH: parent_via_helper kprobe do_sys_openat2
#include <linux/sched.h>

static inline struct task_struct *parent_of(struct task_struct *t)
{
    return t->real_parent;  // expect-rewrite{{t->real_parent}}
}

int parent_via_helper(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return parent_of(t)->tgid;  // expect-rewrite{{parent_of(t)->tgid}}
}
