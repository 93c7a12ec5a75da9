// CASE: a bounded (not unrolled) loop subscripting an external array member with the loop variable
// ATTACH: comm_len kprobe do_sys_openat2
// XFAIL: bcc<=0.37,!patch=array-member-subscript WRONG-READ a subscript of an array member reads a whole array further (docs/findings/array-member-subscript.md)
#include <linux/sched.h>

int comm_len(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    int n = 0;
    for (int i = 0; i < TASK_COMM_LEN; i++) {
        if (t->comm[i] == 0)  // expect-rewrite{{t->comm[i]}}
            break;
        n++;
    }
    return n;
}
