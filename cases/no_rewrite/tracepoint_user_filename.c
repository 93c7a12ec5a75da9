// CASE: a tracepoint's user filename pointer is copied with an explicit bpf_probe_read_user_str, left alone
#include <linux/sched.h>

struct name_buf { char name[32]; };
BPF_PERCPU_ARRAY(names, struct name_buf, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    int zero = 0;
    struct name_buf *buf = names.lookup(&zero);
    if (!buf)
        return 0;
    bpf_probe_read_user_str(buf->name, sizeof(buf->name), args->filename);
    return buf->name[0] == '/';
}
