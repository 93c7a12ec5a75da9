// CASE: talk slide "from the context argument": a task pointer taken from PT_REGS_PARM1(ctx) is external
// ATTACH: from_ctx kprobe re:^finish_task_switch(\.isra\.\d+)?$
#include <linux/sched.h>

int from_ctx(struct pt_regs *ctx)
{
    struct task_struct *prev = (struct task_struct *)PT_REGS_PARM1(ctx);
    return prev->tgid;  // expect-rewrite{{prev->tgid}}
}
