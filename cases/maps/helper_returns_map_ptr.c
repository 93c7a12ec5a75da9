// CASE: a static inline helper looks up a map of task pointers and returns the stored pointer
// ATTACH: helper_lookup kprobe do_sys_openat2
#include <linux/sched.h>

BPF_HASH(cur_by_cpu, u32, struct task_struct *);

static inline struct task_struct *stashed_task(u32 cpu)
{
    struct task_struct **tp = cur_by_cpu.lookup(&cpu);
    return tp ? *tp : 0;
}

int helper_lookup(struct pt_regs *ctx)
{
    u32 cpu = bpf_get_smp_processor_id();
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    cur_by_cpu.update(&cpu, &t);
    struct task_struct *back = stashed_task(cpu);
    if (!back)
        return 0;
    return back->tgid;  // expect-rewrite{{back->tgid}}
}
