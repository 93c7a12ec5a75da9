// CASE: raw tracepoint ctx->args[2] (next) cast and dereferenced in place, with no variable in between
#include <linux/sched.h>

RAW_TRACEPOINT_PROBE(sched_switch)
{
    return ((struct task_struct *)ctx->args[2])->pid;  // expect-rewrite{{((struct task_struct *)ctx->args[2])->pid}}
}
