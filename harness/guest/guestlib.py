"""What every guest program mode shares: bcc constants, bytecode facts, staged result files."""

import json
import os
import struct
import sys
import traceback


DEBUG_PREPROCESSOR = 0x4
# bcc's disassembly with the source line of each instruction, on fd 2: maps a verifier log's instruction
# index to a source line where the kernel log has no BTF line info (split mode loads without BTF).
DEBUG_SOURCE = 0x8
# Helper ids of the probe-read family (include/uapi/linux/bpf.h).
PROBE_READ_HELPERS = {4: "bpf_probe_read", 45: "bpf_probe_read_str", 112: "bpf_probe_read_user",
                      113: "bpf_probe_read_kernel", 114: "bpf_probe_read_user_str",
                      115: "bpf_probe_read_kernel_str"}
BPF_CALL = 0x85
BPF_LD_IMM64 = 0x18
# Program types by case name; kretprobes load as kprobes.
PROG_TYPE_ATTR = {"kprobe": "KPROBE", "kretprobe": "KPROBE", "uprobe": "KPROBE", "uretprobe": "KPROBE",
                  "tracepoint": "TRACEPOINT", "raw_tracepoint": "RAW_TRACEPOINT",
                  "perf_event": "PERF_EVENT", "socket_filter": "SOCKET_FILTER",
                  "sched_cls": "SCHED_CLS", "tc": "SCHED_CLS", "xdp": "XDP", "sock_ops": "SOCK_OPS",
                  "cgroup_sockopt": "CGROUP_SOCKOPT", "cgroup_skb": "CGROUP_SKB", "cgroup_sock": "CGROUP_SOCK",
                  "sk_msg": "SK_MSG", "fentry": "TRACING", "fexit": "TRACING", "lsm": "LSM"}
# The kernel's numbers where an old bcc's BPF class lacks the constant (include/uapi/linux/bpf.h).
PROG_TYPE_NUMBERS = {"SOCK_OPS": 13, "CGROUP_SOCKOPT": 25, "CGROUP_SKB": 8, "CGROUP_SOCK": 9, "SK_MSG": 16,
                     "TRACING": 26, "LSM": 29}


def prog_type_for(name, types, default="kprobe"):
    """A function's type from the case; bcc 0.27+ spells KFUNC_PROBE(f) kfunc__vmlinux__f."""
    for spelling in (name, name.replace("func__vmlinux__", "func__", 1)):
        if spelling in types:
            return types[spelling]
    return default


def bcc_prog_type(BPF, kind):
    attr = PROG_TYPE_ATTR.get(kind, kind.upper())
    return getattr(BPF, attr, PROG_TYPE_NUMBERS.get(attr, attr))


def say(*words):
    sys.stdout.write("HARNESS-CASE " + " ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def verdict_of(status):
    """A child's wait status as a case's verdict: exit-N or signal-N."""
    code = os.waitstatus_to_exitcode(status)
    return "exit-%d" % code if code >= 0 else "signal-%d" % -code


def exit_code_of(work, *args):
    """Run one case's work as its own process would: the exit code it would have (0, a SystemExit's
    code, or 1 with the traceback printed for any other error)."""
    try:
        work(*args)
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1


def bytecode_facts(insns):
    """Instruction count and probe-read helper calls in raw BPF bytecode."""
    calls = {}
    count = 0
    i = 0
    while i + 8 <= len(insns):
        code, regs, _off, imm = struct.unpack_from("<BBhi", insns, i)
        count += 1
        if code == BPF_CALL and (regs >> 4) == 0 and imm in PROBE_READ_HELPERS:
            name = PROBE_READ_HELPERS[imm]
            calls[name] = calls.get(name, 0) + 1
        i += 16 if code == BPF_LD_IMM64 else 8
    return count, calls


def quiet_bpf_class():
    """bcc's BPF class without auto-attach: BPF() attaches kprobe__*/tracepoint__* functions itself;
    the harness loads and attaches by name instead."""
    from bcc import BPF

    class NoAutoAttach(BPF):
        def _trace_autoload(self):
            pass
    return NoAutoAttach


def staged_result(case_path, out, name):
    """(case, result dict, save) for a child that records how far it got in OUT/<case>/<name>."""
    with open(case_path) as f:
        case = json.load(f)
    os.makedirs(out, exist_ok=True)
    result = {"id": case["id"], "error": "", "values": {}, "stage": "compile"}

    def save():
        with open(os.path.join(out, name), "w") as f:
            json.dump(result, f, indent=1)
    save()
    return case, result, save


def redirect_fd2(path):
    """Point fd 2 at a file: bcc's C++ writes there directly, so sys.stderr is not enough."""
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
