// CASE: a socket filter reads skb->len and skb->protocol from its __sk_buff context directly
// PROG: short_only socket_filter
#include <uapi/linux/bpf.h>

int short_only(struct __sk_buff *skb)
{
    if (skb->len < 128)
        return skb->len;
    return skb->protocol == 0 ? 0 : -1;
}
