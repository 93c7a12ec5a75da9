// CASE: bpf_get_current_task() kept in a u64 local, then cast to a task pointer: still kernel memory
// ATTACH: int_cast_tgid kprobe do_sys_openat2
#include <linux/sched.h>

int int_cast_tgid(struct pt_regs *ctx)
{
    u64 addr = bpf_get_current_task();
    struct task_struct *t = (struct task_struct *)addr;
    return t->tgid;  // expect-rewrite{{t->tgid}}
}
