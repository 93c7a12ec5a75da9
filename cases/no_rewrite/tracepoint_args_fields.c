// CASE: TRACEPOINT_PROBE reads args->dfd and args->flags straight from the tracepoint context
#include <linux/sched.h>

TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
    int dfd = args->dfd;
    int flags = args->flags;
    return (dfd < 0) + (flags & 1);
}
