"""Program types inferred by the case parser: PROG lines, bcc's names and macros, context parameters."""

from pathlib import Path

from harness.cases import parse_case

PROGRAM = """// CASE: types
// PROG: filter_as_socket socket_filter
KFUNC_PROBE(vfs_read, struct file *file)
{
    return 0;
}
KRETFUNC_PROBE(vfs_read, struct file *file, long ret)
{
    return 0;
}
LSM_PROBE(file_open, struct file *file)
{
    return 0;
}
RAW_TRACEPOINT_PROBE(sched_switch)
{
    return 0;
}
int on_tc(struct __sk_buff *skb) { return 0; }
int filter_as_socket(struct __sk_buff *skb) { return 0; }
int on_xdp(struct xdp_md *ctx) { return 0; }
int on_ops(struct bpf_sock_ops *skops) { return 0; }
int on_opt(struct bpf_sockopt *opt) { return 0; }
int on_perf(struct bpf_perf_event_data *ctx) { return 0; }
int plain(struct pt_regs *ctx, struct __sk_buff *skb) { return 0; }
"""


def test_types_from_macros_context_parameters_and_prog_lines(tmp_path):
    path = tmp_path / "types.c"
    path.write_text(PROGRAM)
    assert parse_case(path, Path(tmp_path)).prog_types() == {
        "kfunc__vfs_read": "fentry", "kretfunc__vfs_read": "fexit", "lsm__file_open": "lsm",
        "raw_tracepoint__sched_switch": "raw_tracepoint", "on_tc": "sched_cls",
        "filter_as_socket": "socket_filter", "on_xdp": "xdp", "on_ops": "sock_ops", "on_opt": "cgroup_sockopt",
        "on_perf": "perf_event", "plain": "kprobe"}
