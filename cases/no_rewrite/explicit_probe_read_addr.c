// CASE: the user's own bpf_probe_read of &prev->tgid keeps its third argument untouched
#include <linux/sched.h>

int manual_tgid(struct pt_regs *ctx, struct task_struct *prev)
{
    pid_t tgid = 0;
    bpf_probe_read(&tgid, sizeof(tgid), &prev->tgid);
    return tgid;
}
