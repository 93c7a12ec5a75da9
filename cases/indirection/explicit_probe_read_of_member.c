// CASE: in bpf_probe_read(&v, sizeof(v), &t->mm->mm_users) only the outer & is an address: t->mm is a kernel read
// ATTACH: read_mm_users kprobe do_sys_openat2
#include <linux/sched.h>
#include <linux/mm_types.h>

int read_mm_users(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    atomic_t users = {};
    bpf_probe_read(&users, sizeof(users), &t->mm->mm_users);  // expect-rewrite{{t->mm}}
    return users.counter;
}
