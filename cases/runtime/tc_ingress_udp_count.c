// CASE: a tc ingress program parses packet data through __sk_buff data/data_end; nothing is rewritten
// ATTACH: count_udp tc ingress
// TRIGGER: udp 3 100 4242
// EXPECT-MAP: pkts[0] == 3
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/udp.h>
#include <uapi/linux/in.h>
#include <uapi/linux/pkt_cls.h>

BPF_ARRAY(pkts, u64, 1);

int count_udp(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
        return TC_ACT_OK;
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > data_end || udp->dest != htons(4242))
        return TC_ACT_OK;
    int zero = 0;
    u64 *n = pkts.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    return TC_ACT_OK;
}
