// CASE: a socket pointer stored in a map and read back through a pointer to it stays external
// ATTACH: remember_sock kprobe tcp_v4_connect
// ATTACH: read_dport kretprobe tcp_v4_connect
// TRIGGER: tcp 4251
#include <net/sock.h>

BPF_HASH(currsock, u32, struct sock *);

int remember_sock(struct pt_regs *ctx, struct sock *sk)
{
    u32 pid = bpf_get_current_pid_tgid();
    currsock.update(&pid, &sk);
    return 0;
}

int read_dport(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid();
    struct sock **skpp = currsock.lookup(&pid);
    if (skpp == 0)
        return 0;
    // expect-rewrite@+1{{(*skpp)->__sk_common.skc_dport}}
    u16 dport = (*skpp)->__sk_common.skc_dport;
    currsock.delete(&pid);
    return dport;
}
