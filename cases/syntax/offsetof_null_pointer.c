// CASE: offsetof and the &((T *)0)->field idiom compute offsets, they read nothing
#include <linux/sched.h>
#include <linux/stddef.h>

int offsets(struct pt_regs *ctx)
{
    u64 a = offsetof(struct task_struct, tgid);
    u64 b = (u64)&((struct task_struct *)0)->pid;
    return (a - b) & 0xff;
}
