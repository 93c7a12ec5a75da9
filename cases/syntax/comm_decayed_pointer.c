// CASE: comm decays to a kernel char pointer without a read; indexing that pointer is the read
// ATTACH: via_ptr kprobe do_sys_openat2
#include <linux/sched.h>

int via_ptr(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    char *name = t->comm;
    return name[2];  // expect-rewrite{{name[2]}}
}
