// CASE: an external pointer stored in a field of a stack struct; the struct's other field is plain stack data
// ATTACH: holder_field kprobe do_sys_openat2
#include <linux/sched.h>

struct holder {
    struct task_struct *task;
    u32 bias;
};

int holder_field(struct pt_regs *ctx)
{
    struct holder h = {};
    h.task = (struct task_struct *)bpf_get_current_task();
    h.bias = 1;
    return h.task->tgid + h.bias;  // expect-rewrite{{h.task->tgid}}
}
