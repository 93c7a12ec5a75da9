// CASE: two stack levels of indirection above an external pointer: only the last arrow reads kernel memory
// ATTACH: via_ppp kprobe do_sys_openat2
#include <linux/sched.h>

int via_ppp(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct task_struct **pp = &t;
    struct task_struct ***ppp = &pp;
    return (**ppp)->pid;  // expect-rewrite{{(**ppp)->pid}}
}
