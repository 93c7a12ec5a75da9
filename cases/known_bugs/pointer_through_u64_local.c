// CASE: a task pointer cast to u64 in a local and back is still kernel memory
// XFAIL: bcc<=0.37 external pointers are only tracked through pointer-typed values, https://github.com/iovisor/bcc/issues/1683
// ATTACH: laundered kprobe do_sys_openat2
#include <linux/sched.h>

int laundered(struct pt_regs *ctx)
{
    u64 addr = bpf_get_current_task();
    struct task_struct *t = (struct task_struct *)addr;
    return t->tgid;  // expect-rewrite{{t->tgid}}
}
