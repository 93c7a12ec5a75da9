// CASE: *(u32 *)&t->flags reinterprets a kernel field: the outer dereference is the one read
// ATTACH: flags_word kprobe do_sys_openat2
#include <linux/sched.h>

int flags_word(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return *(u32 *)&t->flags != 0;  // expect-rewrite{{*(u32 *)&t->flags}}
}
