// CASE: update then lookup in the same program: (*tp)->tgid is a probe read, *tp is a map value read
// ATTACH: roundtrip kprobe do_sys_openat2
#include <linux/sched.h>

BPF_HASH(rt_map, u32, struct task_struct *);

int roundtrip(struct pt_regs *ctx)
{
    u32 key = 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    rt_map.update(&key, &t);
    struct task_struct **tp = rt_map.lookup(&key);
    if (!tp)
        return 0;
    return (*tp)->tgid;  // expect-rewrite{{(*tp)->tgid}}
}
