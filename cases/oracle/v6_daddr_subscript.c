// CASE: a byte of an IPv4 socket's unused IPv6 destination, through a subscript of an array member: bcc reads 16 bytes further, in the IPv6 source address, which holds the same zero byte
// ATTACH: v6_daddr_byte kprobe tcp_v4_connect
// TRIGGER: tcp 4253
// XFAIL: bcc<=0.37,!patch=array-member-subscript WRONG-READ a subscript of an array member reads a whole array further (docs/findings/array-member-subscript.md)
#include <net/sock.h>

int v6_daddr_byte(struct pt_regs *ctx, struct sock *sk)
{
    u8 b = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8[1];  // expect-rewrite{{sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8[1]}}
    return b;
}
