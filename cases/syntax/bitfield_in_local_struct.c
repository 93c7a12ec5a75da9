// CASE: bitfields of a local struct filled from a kernel value: only the kernel read is rewritten
// ATTACH: pack kprobe do_sys_openat2
#include <linux/sched.h>

struct packed_t {
    u32 low : 4;
    u32 high : 28;
};

int pack(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct packed_t p = {};
    p.low = t->pid;  // expect-rewrite{{t->pid}}
    p.high = p.low + 1;
    return p.high;
}
