// CASE: &t->real_parent->tgid passed to a helper: the inner pointer is read, the helper's *p is a read too
// ATTACH: parent_tgid kprobe do_sys_openat2
#include <linux/sched.h>

static inline int load(int *p)
{
    return *p;  // expect-rewrite{{*p}}
}

int parent_tgid(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return load(&t->real_parent->tgid);  // expect-rewrite{{t->real_parent}}
}
