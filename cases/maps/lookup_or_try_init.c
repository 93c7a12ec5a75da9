// CASE: the value pointer returned by lookup_or_try_init on a map of task pointers leads to an external pointer
// ATTACH: try_init kprobe do_sys_openat2
#include <linux/sched.h>

BPF_HASH(first_task, u32, struct task_struct *);

int try_init(struct pt_regs *ctx)
{
    u32 key = bpf_get_current_pid_tgid() >> 32;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct task_struct **tp = first_task.lookup_or_try_init(&key, &t);
    if (!tp)
        return 0;
    return (*tp)->pid;  // expect-rewrite{{(*tp)->pid}}
}
