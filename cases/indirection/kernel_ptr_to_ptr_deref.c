// CASE: a struct file ** held in kernel memory (the fd array): *fd and (*fd)->f_flags are both kernel reads
// ATTACH: fd_array kprobe do_sys_openat2
#include <linux/sched.h>
#include <linux/fdtable.h>
#include <linux/fs.h>

int fd_array(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct files_struct *files = t->files;  // expect-rewrite{{t->files}}
    struct fdtable *fdt = files->fdt;  // expect-rewrite{{files->fdt}}
    struct file **fd = fdt->fd;  // expect-rewrite{{fdt->fd}}
    struct file *f0 = *fd;  // expect-rewrite{{*fd}}
    return f0 ? f0->f_flags : 0;  // expect-rewrite{{f0->f_flags}}
}
