// CASE: a tc classifier reads __sk_buff fields directly: context access, never a probe read
// PROG: mark_big sched_cls
#include <uapi/linux/bpf.h>
#include <uapi/linux/pkt_cls.h>

int mark_big(struct __sk_buff *skb)
{
    if (skb->len > 1000 && skb->protocol != 0)
        skb->mark = skb->ifindex;
    return TC_ACT_OK;
}
