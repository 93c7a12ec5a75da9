// CASE: a map whose value is a plain struct: its fields are map memory, never probe reads, next to a real one
// ATTACH: count_opens kprobe do_sys_openat2
#include <linux/sched.h>

struct open_stats {
    u64 count;
    u32 last_tgid;
};

BPF_HASH(stats, u32, struct open_stats);

int count_opens(struct pt_regs *ctx)
{
    u32 key = 0;
    struct open_stats zero = {};
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct open_stats *s = stats.lookup_or_try_init(&key, &zero);
    if (!s)
        return 0;
    s->count++;
    s->last_tgid = t->tgid;  // expect-rewrite{{t->tgid}}
    return s->count > 1 && s->last_tgid != 0;
}
