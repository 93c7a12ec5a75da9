// CASE: do_sys_openat2's __user filename is read with bpf_probe_read_user only; the kernel open_how is rewritten
// ATTACH: watch_open kprobe do_sys_openat2
#include <linux/sched.h>
#include <linux/fs.h>
#include <uapi/linux/openat2.h>

int watch_open(struct pt_regs *ctx, int dfd, const char __user *filename, struct open_how *how)
{
    char first[8] = {};
    bpf_probe_read_user(first, sizeof(first), filename);
    u64 flags = how->flags;  // expect-rewrite{{how->flags}}
    return first[0] == '/' && (flags & 0x3) == 0;
}
