// CASE: a three-level chain t->real_parent->real_parent->pid needs one probe read per level
// ATTACH: grandparent kprobe do_sys_openat2
#include <linux/sched.h>

int grandparent(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    // expect-rewrite@+1{{t->real_parent}} expect-rewrite@+1{{t->real_parent->real_parent}}
    return t->real_parent->real_parent->pid;  // expect-rewrite{{t->real_parent->real_parent->pid}}
}
