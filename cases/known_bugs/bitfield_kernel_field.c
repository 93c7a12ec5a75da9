// CASE: a one-bit bitfield of a kernel task_struct must be read, but its address cannot be taken
// XFAIL: bcc<=0.37 bitfields of kernel structs cannot go through bpf_probe_read's address, https://github.com/iovisor/bcc/issues/270
// ATTACH: reset_bit kprobe do_sys_openat2
#include <linux/sched.h>

int reset_bit(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    return t->sched_reset_on_fork;  // expect-rewrite{{t->sched_reset_on_fork}}
}
