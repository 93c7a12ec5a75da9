// CASE: a tracepoint's user filename pointer is copied with an explicit bpf_probe_read_user_str, left alone
#include <linux/sched.h>

BPF_PERCPU_ARRAY(names, char[32], 1);

TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    int zero = 0;
    char *buf = names.lookup(&zero);
    if (!buf)
        return 0;
    bpf_probe_read_user_str(buf, 32, args->filename);
    return buf[0] == '/';
}
