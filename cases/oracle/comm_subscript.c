// CASE: a character of the current task's comm, read through a subscript of an array member
// ATTACH: second_comm_char kprobe do_sys_openat2
// XFAIL: bcc<=0.37,!patch=array-member-subscript WRONG-READ a subscript of an array member reads a whole array further (docs/findings/array-member-subscript.md)
#include <linux/sched.h>

int second_comm_char(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    char c = t->comm[1];  // expect-rewrite{{t->comm[1]}}
    return c;
}
