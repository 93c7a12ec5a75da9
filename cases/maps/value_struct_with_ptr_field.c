// CASE: a map value struct with a task pointer field: rec->task->tgid is external, rec->ts is map memory
// ATTACH: save_rec kprobe do_sys_openat2
// ATTACH: use_rec kretprobe do_sys_openat2
#include <linux/sched.h>

struct task_rec {
    struct task_struct *task;
    u64 ts;
};

BPF_HASH(recs, u32, struct task_rec);

int save_rec(struct pt_regs *ctx)
{
    u32 key = bpf_get_current_pid_tgid();
    struct task_rec r = {};
    r.task = (struct task_struct *)bpf_get_current_task();
    r.ts = bpf_ktime_get_ns();
    recs.update(&key, &r);
    return 0;
}

int use_rec(struct pt_regs *ctx)
{
    u32 key = bpf_get_current_pid_tgid();
    struct task_rec *rec = recs.lookup(&key);
    if (!rec)
        return 0;
    u64 age = bpf_ktime_get_ns() - rec->ts;
    return rec->task->tgid + (age > 1000);  // expect-rewrite{{rec->task->tgid}}
}
