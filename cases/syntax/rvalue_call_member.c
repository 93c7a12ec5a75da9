// CASE: a member of a helper's returned kernel pointer is read, but &(helper())->field only computes an address
// ATTACH: via_helper kprobe do_sys_openat2
#include <linux/sched.h>

static inline struct task_struct *me(void)
{
    return (struct task_struct *)bpf_get_current_task();
}

int via_helper(struct pt_regs *ctx)
{
    u64 where = (u64)&(me())->tgid;
    int tgid = me()->tgid;  // expect-rewrite{{me()->tgid}}
    return tgid + (where != 0);
}
