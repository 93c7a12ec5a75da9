// CASE: the seed talk's currsock pattern: a socket kept in a map at connect and read back at return
// ATTACH: remember kprobe tcp_v4_connect
// ATTACH: dport_at_return kretprobe tcp_v4_connect
// TRIGGER: tcp 4249
// EXPECT-MAP: dports[0] == 4249
#include <net/sock.h>

BPF_HASH(currsock, u32, struct sock *);
BPF_ARRAY(dports, u64, 1);

int remember(struct pt_regs *ctx, struct sock *sk)
{
    u32 tid = bpf_get_current_pid_tgid();
    currsock.update(&tid, &sk);
    return 0;
}

int dport_at_return(struct pt_regs *ctx)
{
    u32 tid = bpf_get_current_pid_tgid();
    struct sock **skpp = currsock.lookup(&tid);
    if (!skpp)
        return 0;
    u16 dport = (*skpp)->__sk_common.skc_dport;  // expect-rewrite{{(*skpp)->__sk_common.skc_dport}}
    u64 port = ntohs(dport);
    int zero = 0;
    dports.update(&zero, &port);
    currsock.delete(&tid);
    return 0;
}
