// CASE: &t->real_parent->pid: the outer address-of is not a read, but t->real_parent under it is
// ATTACH: parent_pid_addr kprobe do_sys_openat2
#include <linux/sched.h>

int parent_pid_addr(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    pid_t ppid = 0;
    bpf_probe_read_kernel(&ppid, sizeof(ppid), &t->real_parent->pid);  // expect-rewrite{{t->real_parent}}
    return ppid;
}
