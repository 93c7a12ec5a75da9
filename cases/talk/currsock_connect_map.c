// CASE: talk slide "through maps": tcp_v4_connect's sock stored at entry, its dport read through the map at return
// TRIGGER: tcp 4250
#include <net/sock.h>

BPF_HASH(currsock, u32, struct sock *);

int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk,
                           struct sockaddr *uaddr, int addr_len)
{
    u32 pid = bpf_get_current_pid_tgid();
    currsock.update(&pid, &sk);
    return 0;
}

int kretprobe__tcp_v4_connect(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid();
    struct sock **skpp = currsock.lookup(&pid);
    if (skpp) {
        u16 dport = (*skpp)->__sk_common.skc_dport;  // expect-rewrite{{(*skpp)->__sk_common.skc_dport}}
        currsock.delete(&pid);
        return dport;
    }
    return 0;
}
