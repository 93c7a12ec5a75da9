// CASE: a kernel pointer cast through void * and back inside the member access is still external
// ATTACH: via_void kprobe do_sys_openat2
#include <linux/sched.h>

int via_void(struct pt_regs *ctx)
{
    void *raw = (void *)bpf_get_current_task();
    return ((struct task_struct *)raw)->tgid;  // expect-rewrite{{((struct task_struct *)raw)->tgid}}
}
