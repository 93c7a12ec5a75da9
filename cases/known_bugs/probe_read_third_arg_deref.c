// CASE: inside the user's own bpf_probe_read, &(*pp)->tgid stays an address: nothing is rewritten in it
// ATTACH: manual_pp kprobe do_sys_openat2
#include <linux/sched.h>

int manual_pp(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct task_struct **pp = &t;
    int tgid = 0;
    bpf_probe_read(&tgid, sizeof(tgid), &(*pp)->tgid);
    return tgid;
}
