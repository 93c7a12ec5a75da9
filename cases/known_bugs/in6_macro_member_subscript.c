// CASE: daddr->s6_addr[4] (s6_addr is a macro for in6_u.u6_addr8) must be one subscript probe read
// XFAIL: bcc<=0.37 subscripts of macro-named array members are skipped since the segfault fix, https://github.com/iovisor/bcc/issues/2739
#include <linux/sched.h>
#include <linux/in6.h>

int v6_byte(struct pt_regs *ctx, struct in6_addr *daddr)
{
    u8 b = daddr->s6_addr[4];  // expect-rewrite{{daddr->s6_addr[4]}}
    return b;
}
