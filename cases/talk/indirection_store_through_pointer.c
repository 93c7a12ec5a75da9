// CASE: talk slide "levels of indirection": *ptr = sk stores into the stack; only the member read through *ptr is rewritten
// ATTACH: test kprobe tcp_v4_connect
// TRIGGER: tcp 4252
#include <net/sock.h>

int test(struct pt_regs *ctx, struct sock *sk)
{
    struct sock *slot = NULL;
    struct sock **ptr = &slot;
    *ptr = sk;
    return ((struct sock *)(*ptr))->sk_daddr;  // expect-rewrite{{((struct sock *)(*ptr))->sk_daddr}}
}
