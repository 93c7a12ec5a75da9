// CASE: fields of a hash map value found by lookup() are read and written directly, no probe read
#include <linux/sched.h>

struct stat_t {
    u64 calls;
    u32 last_pid;
};
BPF_HASH(stats, u32, struct stat_t);

int count_calls(struct pt_regs *ctx)
{
    u32 key = 0;
    struct stat_t *s = stats.lookup(&key);
    if (!s)
        return 0;
    s->calls++;
    s->last_pid = bpf_get_current_pid_tgid();
    return s->calls > 10;
}
