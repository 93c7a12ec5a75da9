// CASE: a header pointer computed as skb->head + skb->network_header stays kernel memory
#include <linux/skbuff.h>
#include <uapi/linux/ip.h>

int ip_proto(struct pt_regs *ctx, struct sk_buff *skb)
{
    struct iphdr *ip = (struct iphdr *)(skb->head + skb->network_header);  // expect-rewrite{{skb->head}} expect-rewrite{{skb->network_header}}
    return ip->protocol;  // expect-rewrite{{ip->protocol}}
}
