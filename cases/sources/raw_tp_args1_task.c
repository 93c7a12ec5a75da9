// CASE: raw tracepoint sched_switch: ctx->args[1] (prev) cast to a task pointer, then a chain through it
#include <linux/sched.h>

RAW_TRACEPOINT_PROBE(sched_switch)
{
    struct task_struct *prev = (struct task_struct *)ctx->args[1];
    return prev->real_parent->tgid;  // expect-rewrite{{prev->real_parent}} expect-rewrite{{prev->real_parent->tgid}}
}
