// CASE: &t->pid passed to an explicit bpf_probe_read_kernel is an address, not a read: no rewrite there
// ATTACH: explicit_read kprobe do_sys_openat2
#include <linux/sched.h>

int explicit_read(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    pid_t pid = 0;
    bpf_probe_read_kernel(&pid, sizeof(pid), &t->pid);
    return pid + t->tgid;  // expect-rewrite{{t->tgid}}
}
