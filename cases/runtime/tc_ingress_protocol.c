// CASE: skb->protocol and skb->ifindex are context fields the kernel rewrites itself; bcc must not
// ATTACH: by_protocol tc ingress
// TRIGGER: udp 2 64 4244
// EXPECT-MAP: ipv4[0] >= 2
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/udp.h>
#include <uapi/linux/in.h>
#include <uapi/linux/pkt_cls.h>

BPF_ARRAY(ipv4, u64, 1);

int by_protocol(struct __sk_buff *skb)
{
    if (skb->protocol != htons(ETH_P_IP) || skb->ifindex == 0)
        return TC_ACT_OK;
    int zero = 0;
    u64 *n = ipv4.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    return TC_ACT_OK;
}
