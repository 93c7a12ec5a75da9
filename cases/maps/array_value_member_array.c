// CASE: a BPF_ARRAY value with an array member indexed by an external read: only the kernel read is rewritten
// ATTACH: prio_hist kprobe do_sys_openat2
#include <linux/sched.h>

struct hist {
    u64 slots[8];
};

BPF_ARRAY(prio_hists, struct hist, 1);

int prio_hist(struct pt_regs *ctx)
{
    int zero = 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct hist *h = prio_hists.lookup(&zero);
    if (!h)
        return 0;
    u32 bucket = (t->prio >> 4) & 7;  // expect-rewrite{{t->prio}}
    h->slots[bucket]++;
    return h->slots[bucket] > 0;
}
