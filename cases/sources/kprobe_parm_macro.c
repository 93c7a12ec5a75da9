// CASE: a pointer taken from PT_REGS_PARM2(ctx) and cast to struct file * is kernel memory
// ATTACH: parm2_flags kprobe vfs_open
#include <linux/fs.h>

int parm2_flags(struct pt_regs *ctx)
{
    struct file *f = (struct file *)PT_REGS_PARM2(ctx);
    return f->f_flags;  // expect-rewrite{{f->f_flags}}
}
