// CASE: assigning a kernel field into a field of a local struct rewrites only the right-hand side
// ATTACH: snap kprobe do_sys_openat2
#include <linux/sched.h>

struct snap_t {
    u32 pid;
    u32 tgid;
};

int snap(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct snap_t s = {};
    s.pid = t->pid;    // expect-rewrite{{t->pid}}
    s.tgid = t->tgid;  // expect-rewrite{{t->tgid}}
    return s.pid ^ s.tgid;
}
