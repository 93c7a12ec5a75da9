// CASE: the length of a frame from xdp_md data_end - data; 90 payload + 8 + 20 + 14 = 132
// ATTACH: frame_len xdp generic
// TRIGGER: udp 1 90 4247
// EXPECT-MAP: lens[0] == 132
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/udp.h>
#include <uapi/linux/in.h>
#include <uapi/linux/pkt_cls.h>

BPF_ARRAY(lens, u64, 1);

int frame_len(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
        return XDP_PASS;
    int zero = 0;
    u64 len = data_end - data;
    lens.update(&zero, &len);
    return XDP_PASS;
}
