"""The programs the runtime modes (oracle, runtime) attach and read: compiled here by bcc (guest mode)
or loaded from a host-compiled bundle (split mode), behind one interface; and the trigger process."""

import json
import os
import struct
import time

from bpfsys import TRACING
from guestlib import DEBUG_PREPROCESSOR, quiet_bpf_class, redirect_fd2
from mode_compile import table_facts
from mode_load import load_bundle


def attach(b, name, kind, target):
    """Attach a loaded function the way the case says (re:REGEX for kprobe targets)."""
    if kind in ("kprobe", "kretprobe"):
        how = {"event_re": target[3:]} if target.startswith("re:") else {"event": target}
        getattr(b, "attach_" + kind)(fn_name=name, **how)
    elif kind == "tracepoint":
        b.attach_tracepoint(tp=target, fn_name=name)
    elif kind == "raw_tracepoint":
        b.attach_raw_tracepoint(tp=target, fn_name=name)
    else:
        raise ValueError("cannot attach %s" % kind)


def attach_point_missing(kind, target):
    """True when this kernel has no such attach point: a function of another kernel version, or of a
    module that is not loaded (kallsyms), or a tracepoint it does not define. A program that cannot
    attach here says nothing about the rewriter, nor about the harness."""
    if kind in ("kprobe", "kretprobe") and not target.startswith("re:"):
        try:
            with open("/proc/kallsyms") as f:
                return not any(len(fields) >= 3 and fields[2] == target for fields in map(str.split, f))
        except OSError:
            return False
    if kind == "tracepoint":
        category, _, event = target.partition(":")
        return not any(os.path.isdir(os.path.join(base, "events", category, event)) for base in TRACING)
    return False


# re:REGEX -> the functions the cell's bcc resolves it to in this kernel. bcc reads all of kallsyms and
# available_filter_functions in Python for it: 2-4 s under TCG, twice per oracle case (probe and twin).
# The runner fills it once per regex before its children fork (resolve_ahead); they inherit it.
KPROBE_MATCHES = {}


def kprobe_functions(target):
    """The kprobe functions of a re: target, as this bcc resolves it (releases differ: 0.31 wants a full
    match), sorted."""
    if target not in KPROBE_MATCHES:
        from bcc import BPF
        KPROBE_MATCHES[target] = sorted(f.decode() for f in BPF.get_kprobe_functions(target[3:].encode()))
    return KPROBE_MATCHES[target]


def resolve_ahead(cases):
    """The re: kprobe targets of the cases with bundles (BundlePrograms.attach; in guest mode bcc's own
    attach_kprobe resolves them), resolved here once each. A regex that fails to resolve is left for
    each case's own attach to meet, and report, as before."""
    for case in cases:
        for _, kind, target in (case.get("attach", []) if case.get("bundles") else []):
            if kind in ("kprobe", "kretprobe") and target.startswith("re:"):
                try:
                    kprobe_functions(target)
                except Exception:
                    pass


# The trigger's inputs per round: the oracle runs it twice, so a site judged by its values alone gets two
# chances to differ (another process name, another file, another port).
ROUND_INPUTS = ({"name": b"harness-trig", "path": "/etc/hostname", "port_shift": 0},
                {"name": b"oracle-round-2", "path": "/etc/passwd", "port_shift": 1})


def trigger_child(kind, port=0, round_=0):
    """Fork the trigger process; it waits on a pipe so its pid can be set in the maps first.
    open: it opens a file; tcp: it connects to 127.0.0.1:port (refused is fine); inputs by round."""
    inputs = ROUND_INPUTS[round_]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        try:
            import ctypes
            ctypes.CDLL(None).prctl(15, inputs["name"], 0, 0, 0)   # PR_SET_NAME: a comm to expect
            os.read(r, 1)
            # Block once more before acting: the programs' pid filters are set one after the other while
            # this child may already run on the other CPU, so a context-switch hook (finish_task_switch)
            # must see a switch into this child after all of them are set.
            time.sleep(0.02)
            if kind == "open":
                with open(inputs["path"], "rb") as f:
                    f.read()
            elif kind == "tcp":
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    s.connect(("127.0.0.1", port + inputs["port_shift"]))
                except OSError:
                    pass
                s.close()
        finally:
            os._exit(0)
    os.close(r)
    return pid, w


NET_KINDS = {"tc": "SCHED_CLS", "xdp": "XDP", "socket": "SOCKET_FILTER"}


class BccPrograms(object):
    """Guest mode: bcc compiles the program in this kernel and attaches it itself."""

    def __init__(self, text, cflags):
        self.b = quiet_bpf_class()(text=text, debug=DEBUG_PREPROCESSOR, cflags=cflags)

    def table(self, name):
        return table_facts(self.b, name)

    def attach(self, name, kind, target, net):
        if kind in NET_KINDS:
            from bcc import BPF
            fn = self.b.load_func(name, getattr(BPF, NET_KINDS[kind]))
            net.attach(kind, fn.fd, target, bcc_fn=fn)
        elif not (name == "%s__%s" % (kind, target)):   # BPF() attached kprobe__X itself
            attach(self.b, name, kind, target)

    def close(self):
        self.b.cleanup()


class BundlePrograms(object):
    """Split mode: programs bcc compiled on the host, loaded and attached by the harness's own loader with
    the calls libbcc makes (perf_event_open with the kprobe PMU or a tracepoint id, raw tracepoint open)
    and pyroute2 for tc/XDP."""

    def __init__(self, bundle_path, out, role):
        import bpfsys
        self.bpfsys = bpfsys
        with open(bundle_path) as f:
            self.bundle = json.load(f)
        self.maps, loads = load_bundle(self.bundle, out, "load-%s-" % role)
        self.progs = dict((e["name"], e["fd"]) for e in loads if e.get("fd", -1) >= 0)
        self.events = []
        failed = [e for e in loads if not e["loaded"]]
        if failed:
            self.close()
            raise OSError("loading %s failed: %s" % (failed[0]["name"], failed[0]["error"]))

    def table(self, name):
        """None when no function uses the map: the program can never write it."""
        if name not in self.bundle["tables"]:
            return None
        facts = dict(self.bundle["tables"][name])
        facts["fd"] = self.maps[facts["fd"]]
        return facts

    def attach(self, name, kind, target, net):
        fd = self.progs[name]
        if kind in NET_KINDS:
            net.attach(kind, fd, target)
        elif kind in ("kprobe", "kretprobe"):
            # event_re as the cell's own bcc resolves it (releases differ: 0.31 wants a full match), and
            # as bcc attaches it: every match it can, an error only when none attaches
            functions = kprobe_functions(target) if target.startswith("re:") else [target]
            errors = []
            for function in functions:
                try:
                    self.events.append(self.bpfsys.attach_kprobe(fd, function, kind == "kretprobe"))
                except OSError as e:
                    errors.append("%s: %s" % (function, e))
            if len(errors) == len(functions):
                raise OSError("cannot attach %s to %s %s: %s" % (name, kind, target, "; ".join(errors) or "no match"))
        elif kind == "tracepoint":
            self.events.append(self.bpfsys.attach_tracepoint(fd, target))
        elif kind == "raw_tracepoint":
            self.events.append(self.bpfsys.attach_raw_tracepoint(fd, target))
        else:
            raise ValueError("cannot attach %s" % kind)

    def close(self):
        for fd in self.events + list(self.progs.values()) + list(self.maps.values()):
            os.close(fd)
        self.events, self.progs, self.maps = [], {}, {}


def open_programs(case, role, base, out):
    """The case's program for `role`: from a bundle compiled on the host when the job carries one (split
    mode), else compiled here by bcc (guest mode). bcc's output goes to compile-<role>.log."""
    bundle = case.get("bundles", {}).get(role)
    if bundle:
        return BundlePrograms(os.path.join(base, bundle), out, role)
    redirect_fd2(os.path.join(out, "compile-%s.log" % role))
    with open(os.path.join(base, case["programs"][role])) as f:
        return BccPrograms(f.read(), case.get("cflags", []))


def read_int(table, key):
    """An integer map value under an integer key, as bcc's table API would give it; None when absent."""
    import bpfsys
    raw = bpfsys.map_lookup(table["fd"], key.to_bytes(table["key_size"], "little"), table["value_size"])
    if raw is None:
        return None
    return int.from_bytes(raw[:8] if table["value_size"] > 8 else raw, "little", signed=table["signed"])


def read_recorded(table):
    """The oracle's per-site values: site id (u32 key) -> the bytes recorded (struct {u32 len; u8 bytes[]})."""
    import bpfsys
    values = {}
    if table is None:
        return values
    for key in bpfsys.map_keys(table["fd"], table["key_size"]):
        raw = bpfsys.map_lookup(table["fd"], key, table["value_size"])
        if raw is not None:
            length = struct.unpack_from("<I", raw, 0)[0]
            values[str(struct.unpack_from("<I", key, 0)[0])] = raw[4:4 + length].hex()
    return values


def run_trigger(words, programs, result, round_=0):
    """The case's trigger child, with its pid (and the round, index 1) set in the oracle's config map first
    when there is one."""
    import bpfsys
    pid, go = trigger_child(words[0], int(words[1]) if len(words) > 1 else 0, round_)
    for cfg in filter(None, (p.table("__harness_cfg") for p in programs)):
        for index, value in ((1, round_), (0, pid)):
            bpfsys.map_update(cfg["fd"], struct.pack("<I", index), struct.pack("<I", value).ljust(cfg["value_size"], b"\0"))
    result["pid" if not round_ else "pid%d" % (round_ + 1)], result["ppid"] = pid, os.getpid()
    os.write(go, b"x")
    os.close(go)
    os.waitpid(pid, 0)
