// CASE: the third kprobe argument (struct open_how *) is kernel memory; the scalar args are plain values
// ATTACH: third_arg_how kprobe do_sys_openat2
#include <linux/fs.h>
#include <uapi/linux/openat2.h>

int third_arg_how(struct pt_regs *ctx, int dfd, const char __user *filename, struct open_how *how)
{
    u64 flags = how->flags;  // expect-rewrite{{how->flags}}
    return dfd < 0 ? 0 : (int)flags;
}
