// CASE: external pointers stored in a stack array; the array element is stack memory, its pointee is not
// ATTACH: ptr_array kprobe do_sys_openat2
#include <linux/sched.h>

int ptr_array(struct pt_regs *ctx)
{
    struct task_struct *tasks[2];
    tasks[0] = (struct task_struct *)bpf_get_current_task();
    tasks[1] = tasks[0]->real_parent;  // expect-rewrite{{tasks[0]->real_parent}}
    return tasks[1]->tgid;  // expect-rewrite{{tasks[1]->tgid}}
}
