// CASE: an XDP program (generic mode) parses xdp_md data/data_end; nothing is rewritten
// ATTACH: xdp_count xdp generic
// TRIGGER: udp 4 80 4246
// EXPECT-MAP: pkts[0] == 4
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/udp.h>
#include <uapi/linux/in.h>
#include <uapi/linux/pkt_cls.h>

BPF_ARRAY(pkts, u64, 1);

int xdp_count(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
        return XDP_PASS;
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > data_end || udp->dest != htons(4246))
        return XDP_PASS;
    int zero = 0;
    u64 *n = pkts.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    return XDP_PASS;
}
