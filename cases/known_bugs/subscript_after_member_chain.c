// CASE: field1->field2[0] through a chain: t->mm is read, then one subscript read of mm's saved_auxv
// ATTACH: first_auxv kprobe do_sys_openat2
#include <linux/sched.h>
#include <linux/mm_types.h>

int first_auxv(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return t->mm->saved_auxv[0] != 0;  // expect-rewrite{{t->mm}} expect-rewrite{{t->mm->saved_auxv[0]}}
}
