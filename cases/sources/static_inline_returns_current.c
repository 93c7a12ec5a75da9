// CASE: a static inline helper returns bpf_get_current_task() cast to a task pointer; its result is external
// ATTACH: helper_source kprobe do_sys_openat2
#include <linux/sched.h>

static inline struct task_struct *cur_task(void)
{
    return (struct task_struct *)bpf_get_current_task();
}

int helper_source(struct pt_regs *ctx)
{
    struct task_struct *t = cur_task();
    return t->tgid;  // expect-rewrite{{t->tgid}}
}
