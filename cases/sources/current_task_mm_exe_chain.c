// CASE: a four-level chain read out of kernel structures: task->mm->exe_file->f_inode->i_ino
// ATTACH: exe_ino kprobe do_sys_openat2
#include <linux/sched.h>
#include <linux/mm_types.h>
#include <linux/fs.h>

int exe_ino(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    // expect-rewrite@+1{{t->mm}} expect-rewrite@+1{{t->mm->exe_file}} expect-rewrite@+1{{t->mm->exe_file->f_inode}}
    unsigned long ino = t->mm->exe_file->f_inode->i_ino;  // expect-rewrite{{t->mm->exe_file->f_inode->i_ino}}
    return ino != 0;
}
