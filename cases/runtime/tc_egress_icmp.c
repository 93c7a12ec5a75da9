// CASE: a tc egress program sees the ICMP port-unreachable replies the host sends back to the peer
// ATTACH: count_icmp tc egress
// TRIGGER: udp 2 64 4245
// EXPECT-MAP: icmp[0] >= 1
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/udp.h>
#include <uapi/linux/in.h>
#include <uapi/linux/pkt_cls.h>

BPF_ARRAY(icmp, u64, 1);

int count_icmp(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_ICMP)
        return TC_ACT_OK;
    int zero = 0;
    u64 *n = icmp.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    return TC_ACT_OK;
}
