// CASE: a list_head address taken from an external struct (&t->children) is not a read; head->next is
// ATTACH: children_head kprobe do_sys_openat2
#include <linux/sched.h>

int children_head(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct list_head *head = &t->children;
    return head->next != head;  // expect-rewrite{{head->next}}
}
