// CASE: a stack array indexed by a kernel value: only the kernel field is read, the stack element is not
// REQUIRES: kernel>=5.12
// (a load from the stack at a variable offset: the verifier allows it since 5.12)
#include <linux/sched.h>

int bucket_of(struct pt_regs *ctx, struct task_struct *prev)
{
    // Filled at run time so the array stays on the stack: a constant initializer lets clang move it to
    // .rodata, which bcc 0.18 and 0.26 do not relocate (the load then reads address 0: not the rewriter's
    // doing). u64, since with u8 clang indexes by OR-ing into the stack pointer, which the verifier refuses.
    u64 buckets[8];
    u64 base = bpf_ktime_get_ns() & 1;
#pragma unroll
    for (int i = 0; i < 8; i++)
        buckets[i] = base + i;
    return buckets[prev->pid & 7];  // expect-rewrite{{prev->pid}}
}
