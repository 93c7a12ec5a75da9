// CASE: raw tracepoint sys_enter: ctx->args[0] is a struct pt_regs * in kernel memory, regs->di needs a probe read
#include <linux/sched.h>

RAW_TRACEPOINT_PROBE(sys_enter)
{
    struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
    unsigned long id = ctx->args[1];
    if (id != 257)
        return 0;
    return regs->si != 0;  // expect-rewrite{{regs->si}}
}
