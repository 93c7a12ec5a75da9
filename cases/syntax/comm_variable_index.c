// CASE: a character of comm chosen by a bounded variable index is read through one subscript probe read
// ATTACH: comm_char kprobe do_sys_openat2
#include <linux/sched.h>

int comm_char(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u32 i = bpf_get_prandom_u32() & 7;
    return t->comm[i];  // expect-rewrite{{t->comm[i]}}
}
