// CASE: two maps with the same 8-byte value size: only the one that received a kernel pointer yields external data
// ATTACH: stash_and_count kprobe do_sys_openat2
// ATTACH: use_both kretprobe do_sys_openat2
#include <linux/sched.h>

BPF_HASH(task_by_pid, u32, struct task_struct *);
BPF_HASH(hits_by_pid, u32, u64);

int stash_and_count(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid();
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u64 one = 1;
    task_by_pid.update(&pid, &t);
    hits_by_pid.update(&pid, &one);
    return 0;
}

int use_both(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid();
    u64 *hits = hits_by_pid.lookup(&pid);
    struct task_struct **tp = task_by_pid.lookup(&pid);
    if (!hits || !tp)
        return 0;
    *hits += 1;
    return (*tp)->tgid + *hits;  // expect-rewrite{{(*tp)->tgid}}
}
