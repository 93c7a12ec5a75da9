// CASE: an external pointer stored through a pointer to a stack slot, then read back through the slot
// ATTACH: slot_store kprobe do_sys_openat2
#include <linux/sched.h>

int slot_store(struct pt_regs *ctx)
{
    struct task_struct *slot = 0;
    struct task_struct **pp = &slot;
    *pp = (struct task_struct *)bpf_get_current_task();
    return slot->tgid;  // expect-rewrite{{slot->tgid}}
}
