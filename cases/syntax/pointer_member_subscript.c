// CASE: fdt->fd[1] subscripts a pointer member: the read is at fd's target plus one slot, not next to the field
// ATTACH: stdout_file kprobe do_sys_openat2
// XFAIL: bcc<=0.37,!patch=array-member-subscript a subscript of a pointer member reads the struct instead of the pointer's target (docs/findings/array-member-subscript.md)
#include <linux/sched.h>
#include <linux/fdtable.h>

int stdout_file(struct pt_regs *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct files_struct *files = t->files;  // expect-rewrite{{t->files}}
    struct fdtable *fdt = files->fdt;       // expect-rewrite{{files->fdt}}
    struct file *f = fdt->fd[1];            // expect-rewrite{{fdt->fd}} expect-rewrite{{fdt->fd[1]}}
    return f != NULL;
}
