// CASE: a kprobe argument parked in a BPF_PERCPU_ARRAY slot and read back in another program
// ATTACH: park_file kprobe vfs_open
// ATTACH: file_flags_later kretprobe vfs_open
#include <linux/fs.h>

BPF_PERCPU_ARRAY(open_file, struct file *, 1);

int park_file(struct pt_regs *ctx, const struct path *path, struct file *file)
{
    int zero = 0;
    open_file.update(&zero, &file);
    return 0;
}

int file_flags_later(struct pt_regs *ctx)
{
    int zero = 0;
    struct file **fp = open_file.lookup(&zero);
    if (!fp || !*fp)
        return 0;
    return (*fp)->f_flags;  // expect-rewrite{{(*fp)->f_flags}}
}
