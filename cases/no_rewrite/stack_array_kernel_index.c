// CASE: a stack array indexed by a kernel value: only the kernel field is read, the stack element is not
#include <linux/sched.h>

int bucket_of(struct pt_regs *ctx, struct task_struct *prev)
{
    u64 buckets[8] = {1, 2, 3, 4, 5, 6, 7, 8};   // u64: with u8 clang indexes by OR-ing into the stack pointer, which the verifier refuses
    return buckets[prev->pid & 7];  // expect-rewrite{{prev->pid}}
}
