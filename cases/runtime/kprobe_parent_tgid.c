// CASE: a task-walking kprobe reads the trigger process's parent's tgid through real_parent
// ATTACH: parent_tgid kprobe do_sys_openat2
// EXPECT-MAP: parents[0] == $PPID
#include <linux/sched.h>

BPF_ARRAY(parents, u64, 1);

int parent_tgid(struct pt_regs *ctx)
{
    char comm[16];
    bpf_get_current_comm(&comm, sizeof(comm));
    if (comm[0] != 'h' || comm[8] != 't' || comm[11] != 'g')   /* "harness-trig" */
        return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u64 tgid = t->real_parent->tgid;  // expect-rewrite{{t->real_parent}} expect-rewrite{{t->real_parent->tgid}}
    int zero = 0;
    parents.update(&zero, &tgid);
    return 0;
}
