// CASE: an external pointer flows through two levels of static inline helpers
// ATTACH: nested_helpers kprobe do_sys_openat2
#include <linux/sched.h>

static inline u32 pid_of(struct task_struct *who)
{
    return who->pid;  // expect-rewrite{{who->pid}}
}

static inline u32 parent_pid(struct task_struct *child)
{
    return pid_of(child->real_parent);  // expect-rewrite{{child->real_parent}}
}

int nested_helpers(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return parent_pid(t);
}
