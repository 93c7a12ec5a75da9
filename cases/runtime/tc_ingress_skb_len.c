// CASE: a tc program reads skb->len straight from the context: 100 payload + UDP + IP + Ethernet = 142
// ATTACH: last_len tc ingress
// TRIGGER: udp 2 100 4243
// EXPECT-MAP: lens[0] == 142
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/udp.h>
#include <uapi/linux/in.h>
#include <uapi/linux/pkt_cls.h>

BPF_ARRAY(lens, u64, 1);

int last_len(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
        return TC_ACT_OK;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
        return TC_ACT_OK;
    int zero = 0;
    u64 len = skb->len;
    lens.update(&zero, &len);
    return TC_ACT_OK;
}
