// CASE: p->a.b is one read, and p->a.b->c after it another: t->fs->pwd.dentry->d_name.len
// ATTACH: pwd_len kprobe do_sys_openat2
#include <linux/sched.h>
#include <linux/fs_struct.h>
#include <linux/dcache.h>

int pwd_len(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    // expect-rewrite@+1{{t->fs}} expect-rewrite@+1{{t->fs->pwd.dentry}}
    return t->fs->pwd.dentry->d_name.len;  // expect-rewrite{{t->fs->pwd.dentry->d_name.len}}
}
