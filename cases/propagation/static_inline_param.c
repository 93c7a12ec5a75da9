// CASE: an external pointer passed to a static inline helper makes the helper's parameter external
// ATTACH: helper_param kprobe do_sys_openat2
#include <linux/sched.h>

static inline u32 tgid_of(struct task_struct *task)
{
    return task->tgid;  // expect-rewrite{{task->tgid}}
}

int helper_param(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return tgid_of(t);
}
