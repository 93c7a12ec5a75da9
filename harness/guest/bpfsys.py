"""The bpf(2) calls split mode needs, through ctypes: map info (host side), map create and program load
(guest side). Stdlib only, Python 3.9 to 3.13.
"""

import ctypes
import errno
import os
import struct

SYS_BPF = 321                     # x86_64
BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_OBJ_GET_INFO_BY_FD = 0, 5, 15
BPF_LD_IMM64 = 0x18
BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE = 1, 2
PROG_TYPES = {"socket_filter": 1, "kprobe": 2, "kretprobe": 2, "uprobe": 2, "uretprobe": 2, "sched_cls": 3,
              "tc": 3, "tracepoint": 5, "xdp": 6, "perf_event": 7, "cgroup_skb": 8, "cgroup_sock": 9,
              "sock_ops": 13, "sk_msg": 16, "raw_tracepoint": 17, "cgroup_sockopt": 25, "fentry": 26,
              "fexit": 26, "lsm": 29}
# Types the kernel loads only with an expected attach type (enum bpf_attach_type), and for tracing
# types the BTF id of what they attach to.
BPF_CGROUP_GETSOCKOPT, BPF_CGROUP_SETSOCKOPT = 21, 22
BPF_TRACE_FENTRY, BPF_TRACE_FEXIT, BPF_LSM_MAC = 24, 25, 27
BTF_KIND_FUNC = 12
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"


def expected_attach_type(prog_type, name):
    if prog_type == "cgroup_sockopt":
        return BPF_CGROUP_SETSOCKOPT if "set" in name.lower() else BPF_CGROUP_GETSOCKOPT
    return {"fentry": BPF_TRACE_FENTRY, "fexit": BPF_TRACE_FEXIT, "lsm": BPF_LSM_MAC}.get(prog_type, 0)


def attach_target(prog_type, name):
    """The kernel function a tracing program attaches to, from bcc's names (kfunc__[vmlinux__]f,
    kretfunc__..., lsm__hook -> bpf_lsm_hook)."""
    for prefix in ("kfunc__vmlinux__", "kretfunc__vmlinux__", "kfunc__", "kretfunc__"):
        if name.startswith(prefix):
            return name[len(prefix):]
    if name.startswith("lsm__"):
        return "bpf_lsm_" + name[len("lsm__"):]
    return name


def btf_func_id(func, path=VMLINUX_BTF):
    """The BTF type id of a kernel function (0 when the kernel has no BTF or no such function)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return 0
    _magic, _ver, _flags, hdr_len, type_off, type_len, str_off, _str_len = struct.unpack_from("<HBBIIIII", data, 0)
    types, strings = hdr_len + type_off, hdr_len + str_off
    want = func.encode()
    # bytes after the 12-byte header, by kind (include/uapi/linux/btf.h); per member where vlen counts
    fixed = {1: 4, 3: 12, 14: 4, 17: 4}
    per_member = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
    pos, tid = types, 1
    while pos < types + type_len:
        name_off, info, _size = struct.unpack_from("<III", data, pos)
        kind, vlen = (info >> 24) & 0x1f, info & 0xffff
        if kind == BTF_KIND_FUNC:
            start = strings + name_off
            if data[start:data.index(b"\0", start)] == want:
                return tid
        pos += 12 + fixed.get(kind, 0) + per_member.get(kind, 0) * vlen
        tid += 1
    return 0

_libc = ctypes.CDLL(None, use_errno=True)


class BpfError(OSError):
    pass


def _bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    ret = _libc.syscall(SYS_BPF, cmd, buf, len(attr))
    if ret < 0:
        e = ctypes.get_errno()
        raise BpfError(e, os.strerror(e))
    return ret, buf.raw


def map_info(fd):
    """Type, sizes, entries, flags and name of the map behind an fd."""
    info = ctypes.create_string_buffer(80)
    attr = bytearray(16)
    struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
    _bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    mtype, _id, key, value, entries, flags = struct.unpack_from("<IIIIII", info.raw, 0)
    name = info.raw[24:40].split(b"\0", 1)[0].decode(errors="replace")
    return {"type": mtype, "key_size": key, "value_size": value, "max_entries": entries,
            "flags": flags, "name": name}


def map_fds(insns):
    """The map fds an instruction stream refers to (ld_imm64 with a pseudo map source)."""
    fds = []
    for i in range(0, len(insns) - 15, 8):
        code, regs, _off, imm = struct.unpack_from("<BBhi", insns, i)
        if code == BPF_LD_IMM64 and (regs >> 4) in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE) and imm not in fds:
            fds.append(imm)
    return fds


def create_map(m):
    attr = bytearray(48)
    struct.pack_into("<IIIII", attr, 0, m["type"], m["key_size"], m["value_size"], m["max_entries"], m["flags"])
    attr[28:28 + 15] = m.get("name", "").encode()[:15].ljust(15, b"\0")
    try:
        return _bpf(BPF_MAP_CREATE, attr)[0]
    except BpfError as e:
        if e.errno != errno.EINVAL or not m.get("name"):
            raise
        return create_map(dict(m, name=""))   # kernels that reject some map names


def patch_map_fds(insns, mapping):
    """Rewrite the recorded (host) map fds in ld_imm64 instructions to this kernel's fds."""
    out = bytearray(insns)
    i = 0
    while i + 8 <= len(out):
        code, regs, off, imm = struct.unpack_from("<BBhi", out, i)
        if code == BPF_LD_IMM64 and (regs >> 4) in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE):
            struct.pack_into("<BBhi", out, i, code, regs, off, mapping[imm])
            i += 16
            continue
        i += 16 if code == BPF_LD_IMM64 else 8
    return bytes(out)


def load_program(insns, prog_type, license="GPL", kern_version=0, name="", log_size=1 << 22):
    """(fd or -1, errno text, verifier log). Retries with the log on failure, as libbcc does."""
    insn_buf = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license.encode() + b"\0")
    attach_type = expected_attach_type(prog_type, name)
    btf_id = btf_func_id(attach_target(prog_type, name)) if prog_type in ("fentry", "fexit", "lsm") else 0
    for level in (0, 1):
        log = ctypes.create_string_buffer(log_size if level else 1)
        attr = bytearray(112)
        struct.pack_into("<IIQQIIQII", attr, 0, PROG_TYPES.get(prog_type, prog_type) if isinstance(prog_type, str)
                         else prog_type, len(insns) // 8, ctypes.addressof(insn_buf), ctypes.addressof(lic),
                         level, log_size if level else 0, ctypes.addressof(log) if level else 0,
                         kern_version, 0)
        attr[48:48 + 15] = name.encode()[:15].ljust(15, b"\0")
        struct.pack_into("<I", attr, 68, attach_type)       # expected_attach_type
        struct.pack_into("<I", attr, 108, btf_id)           # attach_btf_id
        try:
            fd, _ = _bpf(BPF_PROG_LOAD, attr)
            return fd, "", ""
        except BpfError as e:
            err = e
            if level == 1:
                text = log.value.decode(errors="replace")
                return -1, "%s: %s" % (errno.errorcode.get(err.errno, err.errno), err.strerror), text
    return -1, "unreachable", ""


# --- maps, read and written by fd (split mode and guest mode share these readers) ---
BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_GET_NEXT_KEY = 1, 2, 4
BPF_RAW_TRACEPOINT_OPEN = 17


def _elem_attr(fd, key, value=None, flags=0):
    attr = bytearray(32)
    struct.pack_into("<IIQQQ", attr, 0, fd, 0, ctypes.addressof(key),
                     ctypes.addressof(value) if value is not None else 0, flags)
    return attr


def map_lookup(fd, key, value_size):
    """The value bytes under `key` (bytes), or None when there is none."""
    k = ctypes.create_string_buffer(key, len(key))
    v = ctypes.create_string_buffer(value_size)
    try:
        _bpf(BPF_MAP_LOOKUP_ELEM, _elem_attr(fd, k, v))
    except BpfError as e:
        if e.errno == errno.ENOENT:
            return None
        raise
    return v.raw


def map_update(fd, key, value):
    k = ctypes.create_string_buffer(key, len(key))
    v = ctypes.create_string_buffer(value, len(value))
    _bpf(BPF_MAP_UPDATE_ELEM, _elem_attr(fd, k, v))


def map_keys(fd, key_size):
    """Every key of a map, in the kernel's order."""
    keys = []
    prev = None
    while True:
        nxt = ctypes.create_string_buffer(key_size)
        cur = ctypes.create_string_buffer(prev, key_size) if prev is not None else None
        attr = bytearray(32)
        struct.pack_into("<IIQQ", attr, 0, fd, 0, ctypes.addressof(cur) if cur is not None else 0,
                         ctypes.addressof(nxt))
        try:
            _bpf(BPF_MAP_GET_NEXT_KEY, attr)
        except BpfError as e:
            if e.errno == errno.ENOENT:
                return keys
            raise
        prev = nxt.raw
        keys.append(prev)


# --- attaching loaded programs: the perf-event and bpf calls libbcc itself makes ---
SYS_PERF_EVENT_OPEN = 298         # x86_64
PERF_TYPE_TRACEPOINT = 2
PERF_FLAG_FD_CLOEXEC = 8
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408
TRACING = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def _read_sys(path):
    with open(path) as f:
        return f.read().strip()


def _perf_event(ptype, config, config1=None):
    """perf_event_open(2) for one kernel-wide event on cpu 0 (as libbcc opens kprobes/tracepoints)."""
    attr = ctypes.create_string_buffer(112)
    struct.pack_into("<IIQQ", attr, 0, ptype, 112, config, 1)          # sample_period 1
    struct.pack_into("<I", attr, 48, 1)                                 # wakeup_events 1
    if config1 is not None:
        struct.pack_into("<Q", attr, 56, ctypes.addressof(config1))    # kprobe_func
    fd = _libc.syscall(SYS_PERF_EVENT_OPEN, attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC)
    if fd < 0:
        e = ctypes.get_errno()
        raise BpfError(e, "perf_event_open: " + os.strerror(e))
    return fd


def _enable_with(fd, prog_fd):
    import fcntl
    fcntl.ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd)
    fcntl.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)
    return fd


def attach_kprobe(prog_fd, function, retprobe=False):
    """A kprobe through the kprobe PMU (no text written to kprobe_events); returns the event fd."""
    pmu = "/sys/bus/event_source/devices/kprobe/"
    config = 0
    if retprobe:    # the format file says which config bit marks a return probe ("config:0")
        config = 1 << int(_read_sys(pmu + "format/retprobe").split(":")[1])
    name = ctypes.create_string_buffer(function.encode())
    return _enable_with(_perf_event(int(_read_sys(pmu + "type")), config, name), prog_fd)


def attach_tracepoint(prog_fd, target):
    category, _, event = target.partition(":")
    for base in TRACING:
        path = "%s/events/%s/%s/id" % (base, category, event)
        if os.path.exists(path):
            return _enable_with(_perf_event(PERF_TYPE_TRACEPOINT, int(_read_sys(path))), prog_fd)
    raise OSError(errno.ENOENT, "no tracepoint %s" % target)


def attach_raw_tracepoint(prog_fd, name):
    buf = ctypes.create_string_buffer(name.encode())
    attr = bytearray(16)
    struct.pack_into("<QI", attr, 0, ctypes.addressof(buf), prog_fd)
    return _bpf(BPF_RAW_TRACEPOINT_OPEN, attr)[0]
