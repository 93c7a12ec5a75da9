// CASE: a socket filter reads __sk_buff fields of the context directly; nothing is rewritten
// ATTACH: ipv4_only socket veth
// TRIGGER: udp 3 64 4248
// EXPECT-MAP: seen[0] >= 3
#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/udp.h>
#include <uapi/linux/in.h>
#include <uapi/linux/pkt_cls.h>

BPF_ARRAY(seen, u64, 1);

int ipv4_only(struct __sk_buff *skb)
{
    if (skb->protocol != htons(ETH_P_IP))
        return 0;
    int zero = 0;
    u64 *n = seen.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}
