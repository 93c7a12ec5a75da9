// CASE: a parenthesized array member subscripted, (t->comm)[0], is still one kernel read
// ATTACH: first_char kprobe do_sys_openat2
#include <linux/sched.h>

int first_char(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return (t->comm)[0];  // expect-rewrite{{(t->comm)[0]}}
}
