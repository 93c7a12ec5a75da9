// CASE: pp = &t->real_parent points into kernel memory, so *pp is a kernel read and so is (*pp)->tgid
// ATTACH: field_addr_deref kprobe do_sys_openat2
#include <linux/sched.h>

int field_addr_deref(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct task_struct **pp = &t->real_parent;
    return (*pp)->tgid;  // expect-rewrite{{*pp}} expect-rewrite{{(*pp)->tgid}}
}
