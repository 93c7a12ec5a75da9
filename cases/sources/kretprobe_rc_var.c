// CASE: a kretprobe's PT_REGS_RC(ctx), cast to struct file * into a variable, is kernel memory
// PROG: filp_ret_mode kretprobe
// ATTACH: filp_ret_mode kretprobe do_filp_open
#include <linux/fs.h>

int filp_ret_mode(struct pt_regs *ctx)
{
    struct file *f = (struct file *)PT_REGS_RC(ctx);
    if (IS_ERR_OR_NULL(f))
        return 0;
    return f->f_mode;  // expect-rewrite{{f->f_mode}}
}
