// CASE: a task pointer saved in a BPF_HASH by one program and copied out of the map in another stays external
// ATTACH: save_task kprobe do_sys_openat2
// ATTACH: load_task kretprobe do_sys_openat2
#include <linux/sched.h>

BPF_HASH(saved_task, u32, struct task_struct *);

int save_task(struct pt_regs *ctx)
{
    u32 key = bpf_get_current_pid_tgid();
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    saved_task.update(&key, &t);
    return 0;
}

int load_task(struct pt_regs *ctx)
{
    u32 key = bpf_get_current_pid_tgid();
    struct task_struct **tp = saved_task.lookup(&key);
    if (!tp)
        return 0;
    struct task_struct *t = *tp;
    saved_task.delete(&key);
    return t->real_parent->tgid;  // expect-rewrite{{t->real_parent}} expect-rewrite{{t->real_parent->tgid}}
}
