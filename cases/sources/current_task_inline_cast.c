// CASE: bpf_get_current_task() cast and dereferenced in place, with no variable in between
// ATTACH: current_inline_tgid kprobe do_sys_openat2
#include <linux/sched.h>

int current_inline_tgid(struct pt_regs *ctx)
{
    return ((struct task_struct *)bpf_get_current_task())->tgid;  // expect-rewrite{{((struct task_struct *)bpf_get_current_task())->tgid}}
}
