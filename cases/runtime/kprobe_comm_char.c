// CASE: the third character of the current task's comm through a subscript: 'r' of "harness-trig"
// ATTACH: comm_char kprobe do_sys_openat2
// EXPECT-MAP: chars[0] == 'r'
// XFAIL: bcc<=0.37,!patch=array-member-subscript FN-RUNTIME a subscript of an array member reads a whole array further (docs/findings/array-member-subscript.md)
#include <linux/sched.h>

BPF_ARRAY(chars, u64, 1);

int comm_char(struct pt_regs *ctx)
{
    char comm[16];
    bpf_get_current_comm(&comm, sizeof(comm));
    if (comm[0] != 'h' || comm[8] != 't' || comm[11] != 'g')
        return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u64 c = t->comm[2];  // expect-rewrite{{t->comm[2]}}
    int zero = 0;
    chars.update(&zero, &c);
    return 0;
}
