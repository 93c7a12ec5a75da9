// CASE: the second kprobe argument is kernel memory, the first one unused
// ATTACH: second_arg_flags kprobe vfs_open
#include <linux/fs.h>

int second_arg_flags(struct pt_regs *ctx, const struct path *path, struct file *file)
{
    unsigned int flags = file->f_flags;  // expect-rewrite{{file->f_flags}}
    return flags & 3;
}
