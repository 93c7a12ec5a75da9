// CASE: a BPF_ARRAY of task pointers written and read in one program; the lookup's own pointer is not external
// ATTACH: array_slot kprobe do_sys_openat2
#include <linux/sched.h>

BPF_ARRAY(task_slots, struct task_struct *, 4);

int array_slot(struct pt_regs *ctx)
{
    int idx = 2;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    task_slots.update(&idx, &t);
    struct task_struct **slot = task_slots.lookup(&idx);
    if (!slot)
        return 0;
    struct task_struct *back = *slot;
    return back ? back->tgid : 0;  // expect-rewrite{{back->tgid}}
}
