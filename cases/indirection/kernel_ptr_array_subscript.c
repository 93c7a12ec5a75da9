// CASE: subscripting a kernel array of pointers (fd[1]) and following the element: two separate reads
// ATTACH: fd_subscript kprobe do_sys_openat2
#include <linux/sched.h>
#include <linux/fdtable.h>
#include <linux/fs.h>

int fd_subscript(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct fdtable *fdt = t->files->fdt;  // expect-rewrite{{t->files}} expect-rewrite{{t->files->fdt}}
    struct file **fd = fdt->fd;  // expect-rewrite{{fdt->fd}}
    if (!fd[1])  // expect-rewrite{{fd[1]}}
        return 0;
    return fd[1]->f_mode;  // expect-rewrite{{fd[1]}} expect-rewrite{{fd[1]->f_mode}}
}
