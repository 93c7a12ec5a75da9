// CASE: an external pointer placed in a stack struct by a designated initializer is still external
// ATTACH: holder_init kprobe do_sys_openat2
#include <linux/sched.h>

struct holder2 {
    u64 tag;
    struct task_struct *task;
};

int holder_init(struct pt_regs *ctx)
{
    struct holder2 h = { .tag = 7, .task = (struct task_struct *)bpf_get_current_task() };
    return h.task->tgid + (int)h.tag;  // expect-rewrite{{h.task->tgid}}
}
