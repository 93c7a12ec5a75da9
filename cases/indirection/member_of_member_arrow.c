// CASE: p->a->b on a kprobe argument: both arrows read kernel memory (file->f_inode->i_mode)
// ATTACH: inode_mode kprobe vfs_open
#include <linux/fs.h>

int inode_mode(struct pt_regs *ctx, const struct path *path)
{
    return path->dentry->d_inode != 0;  // expect-rewrite{{path->dentry}} expect-rewrite{{path->dentry->d_inode}}
}
