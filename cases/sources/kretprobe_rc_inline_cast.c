// CASE: PT_REGS_RC(ctx) cast to struct file * and dereferenced in place, with no variable in between
// PROG: filp_ret_flags kretprobe
// ATTACH: filp_ret_flags kretprobe do_filp_open
#include <linux/fs.h>

int filp_ret_flags(struct pt_regs *ctx)
{
    if (IS_ERR_OR_NULL((void *)PT_REGS_RC(ctx)))
        return 0;
    return ((struct file *)PT_REGS_RC(ctx))->f_flags;  // expect-rewrite{{((struct file *)PT_REGS_RC(ctx))->f_flags}}
}
