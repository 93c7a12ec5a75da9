// CASE: a raw tracepoint reads ctx->args[1] from its context array directly
#include <linux/sched.h>

RAW_TRACEPOINT_PROBE(sched_switch)
{
    u64 prev_addr = ctx->args[1];
    return prev_addr != 0;
}
