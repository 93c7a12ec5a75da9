// CASE: a pointer stored with insert() (not update) marks the map as holding external pointers
// ATTACH: insert_task kprobe do_sys_openat2
// ATTACH: read_inserted kretprobe do_sys_openat2
#include <linux/sched.h>

BPF_HASH(inserted, u64, struct task_struct *);

int insert_task(struct pt_regs *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    inserted.insert(&id, &t);
    return 0;
}

int read_inserted(struct pt_regs *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    struct task_struct **tp = inserted.lookup(&id);
    if (tp == 0)
        return 0;
    return (*tp)->prio;  // expect-rewrite{{(*tp)->prio}}
}
