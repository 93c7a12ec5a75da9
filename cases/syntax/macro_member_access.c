// CASE: a user macro that expands to a member dereference of a kernel pointer must still be rewritten
// ATTACH: by_macro kprobe do_sys_openat2
#include <linux/sched.h>

#define TGID_OF(task) ((task)->tgid)

int by_macro(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return TGID_OF(t);  // expect-rewrite{{TGID_OF(t)}}
}
