// CASE: reading registers from the pt_regs context (PT_REGS_PARM2, ctx->di) is context access, not a probe read
#include <linux/sched.h>

int raw_regs(struct pt_regs *ctx)
{
    u64 second = PT_REGS_PARM2(ctx);
    u64 first = ctx->di;
    return (first ^ second) & 1;
}
