// CASE: the current task's own tgid read through bpf_get_current_task() equals the trigger's pid
// ATTACH: own_tgid kprobe do_sys_openat2
// EXPECT-MAP: tgids[0] == $PID
#include <linux/sched.h>

BPF_ARRAY(tgids, u64, 1);

int own_tgid(struct pt_regs *ctx)
{
    char comm[16];
    bpf_get_current_comm(&comm, sizeof(comm));
    if (comm[0] != 'h' || comm[8] != 't' || comm[11] != 'g')
        return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u64 tgid = t->tgid;  // expect-rewrite{{t->tgid}}
    int zero = 0;
    tgids.update(&zero, &tgid);
    return 0;
}
