// CASE: an external pointer used as a map key: the u64 value looked up by it is map memory, not a probe read
// ATTACH: key_by_task kprobe do_sys_openat2
#include <linux/sched.h>

BPF_HASH(start_ts, struct task_struct *, u64);

int key_by_task(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u64 now = bpf_ktime_get_ns();
    start_ts.update(&t, &now);
    u64 *ts = start_ts.lookup(&t);
    if (!ts)
        return 0;
    return (now - *ts) == 0;
}
