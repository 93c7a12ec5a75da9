// CASE: pointer arithmetic on an array member of an external struct, then a unary dereference
// ATTACH: comm_second kprobe do_sys_openat2
#include <linux/sched.h>

int comm_second(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    char *p = t->comm + 1;
    return *p;  // expect-rewrite{{*p}}
}
