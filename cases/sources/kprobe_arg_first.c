// CASE: the first kprobe argument after ctx is kernel memory: path->dentry needs a probe read
// ATTACH: first_arg_dentry kprobe vfs_open
#include <linux/fs.h>

int first_arg_dentry(struct pt_regs *ctx, const struct path *path, struct file *file)
{
    return path->dentry != 0;  // expect-rewrite{{path->dentry}}
}
