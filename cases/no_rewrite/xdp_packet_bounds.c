// CASE: XDP reads ctx->data/data_end and a bounds-checked Ethernet header: packet access, no probe read
// PROG: eth_proto xdp
#include <uapi/linux/bpf.h>
#include <linux/if_ether.h>

int eth_proto(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return XDP_PASS;
    if (eth->h_proto == htons(ETH_P_ARP))
        return XDP_DROP;
    return XDP_PASS;
}
