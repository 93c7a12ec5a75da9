// CASE: an explicit bpf_probe_read_kernel with a cast address of a kernel field is not rewritten again
// ATTACH: manual_kernel_read kprobe do_sys_openat2
#include <linux/sched.h>

int manual_kernel_read(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u32 flags = 0;
    bpf_probe_read_kernel(&flags, sizeof(flags), (void *)&t->flags);
    return flags != 0;
}
