"""The harness's program inside a guest: compile and load each case with bcc, record raw facts.

Stdlib only, Python 3.9 to 3.13 (it runs with the rewriter root's own python3).

    runner.py IN OUT            every case of IN/job.json, one child process each, by the job's mode:
                                  run      (guest mode) compile with bcc and load, in this kernel
                                  compile  (split mode, on the host in the rewriter's root) compile with
                                           bcc and export a load bundle per case; nothing is loaded
                                  load     (split mode, in the guest) load the bundles' programs
                                  capture  copy this kernel's personality (kallsyms, BTF, tracepoints)
                                  oracle   compile a probe and a twin program, attach both, run the
                                           trigger once, record what each read (differential oracle)
                                  runtime  compile a case, attach it (tracing, or tc/XDP/socket on a
                                           veth pair into a peer namespace made with pyroute2), run
                                           its trigger, read the maps its EXPECT-MAP lines name
                                  extract  run Python tool scripts with BPF() replaced by a recorder of
                                           the text they would compile (their default options)
    runner.py --one MODE CASE OUT   (internal) the child for one case

Every case runs in its own process so a crash or hang of bcc loses only that case. Results are files:
OUT/<case>/result.json (written by the child), OUT/<case>/compile.log (fd 2 during BPF(), which
holds bcc's rewritten text and clang's diagnostics), OUT/<case>/load-<function>.log (fd 2 during each
load, which holds the verifier log), and OUT/status with one "case:code" line per finished case
(a missing line means the guest died first).
"""

import base64
import glob
import json
import os
import signal
import struct
import subprocess
import sys
import tarfile
import time

DEBUG_PREPROCESSOR = 0x4
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
                  "sched_cls": "SCHED_CLS", "tc": "SCHED_CLS", "xdp": "XDP"}


def say(*words):
    sys.stdout.write("HARNESS-CASE " + " ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


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


def run_one(case_path, out, mode="run"):
    with open(case_path) as f:
        case = json.load(f)
    result = {"id": case["id"], "compiled": False, "error": "", "functions": [], "timings": {}}
    os.makedirs(out, exist_ok=True)

    def save():
        with open(os.path.join(out, "result.json"), "w") as f:
            json.dump(result, f, indent=1)

    save()
    redirect_fd2(os.path.join(out, "compile.log"))
    t0 = time.monotonic()
    try:
        import bcc
        from bcc import BPF, lib
        result["bcc_version"] = getattr(bcc, "__version__", "")
    except Exception as e:  # no bcc at all is harness trouble, reported as such
        result["error"] = "import bcc failed: %r" % (e,)
        save()
        return
    result["timings"]["import"] = time.monotonic() - t0

    NoAutoAttach = quiet_bpf_class()

    t0 = time.monotonic()
    try:
        with open(os.path.join(os.path.dirname(case_path), case["file"])) as f:
            text = f.read()
        b = NoAutoAttach(text=text, debug=DEBUG_PREPROCESSOR, cflags=case.get("cflags", []))
    except Exception as e:
        result["error"] = "%s: %s" % (type(e).__name__, e)
        result["timings"]["compile"] = time.monotonic() - t0
        save()
        return
    result["compiled"] = True
    result["timings"]["compile"] = time.monotonic() - t0
    save()

    names = [lib.bpf_function_name(b.module, i).decode() for i in range(lib.bpf_num_functions(b.module))]
    types = case.get("prog_types", {})
    if mode == "compile":
        export_bundle(b, lib, names, types, case, out, result)
    else:
        for name in names:
            kind = types.get(name, case.get("default_prog_type", "kprobe"))
            fn = {"name": name, "prog_type": kind, "loaded": False, "error": "", "log": "load-%s.log" % name}
            try:
                fn["insns"], fn["probe_reads"] = bytecode_facts(b.dump_func(name))
            except Exception as e:
                fn["error"] = "dump_func: %s" % (e,)
            redirect_fd2(os.path.join(out, fn["log"]))
            t0 = time.monotonic()
            try:
                b.load_func(name, getattr(BPF, PROG_TYPE_ATTR.get(kind, kind.upper())))
                fn["loaded"] = True
            except Exception as e:
                fn["error"] = "%s: %s" % (type(e).__name__, e)
            fn["load_seconds"] = time.monotonic() - t0
            result["functions"].append(fn)
            save()
    result["done"] = True
    save()


def export_bundle(b, lib, names, types, case, out, result):
    """Split mode: everything a loader needs to load the programs in another kernel."""
    import bpfsys
    bundle = {"license": lib.bpf_module_license(b.module).decode(),
              "kern_version": int(lib.bpf_module_kern_version(b.module)), "functions": [], "maps": {},
              "tables": {}}
    for name in names:
        insns = b.dump_func(name)
        kind = types.get(name, case.get("default_prog_type", "kprobe"))
        count, reads = bytecode_facts(insns)
        for fd in bpfsys.map_fds(insns):
            if str(fd) not in bundle["maps"]:
                bundle["maps"][str(fd)] = bpfsys.map_info(fd)
        bundle["functions"].append({"name": name, "prog_type": kind,
                                    "insns": base64.b64encode(insns).decode()})
        result["functions"].append({"name": name, "prog_type": kind, "loaded": False, "pending": True,
                                    "error": "", "log": "load-%s.log" % name, "insns": count,
                                    "probe_reads": reads})
    for name in case.get("tables", []):      # the maps a runtime check or the oracle reads back
        facts = table_facts(b, name)
        if str(facts["fd"]) in bundle["maps"]:
            bundle["tables"][name] = facts
    with open(os.path.join(out, "bundle.json"), "w") as f:
        json.dump(bundle, f)


def table_facts(b, name):
    """What a reader needs of one of bcc's tables: fd, key and value sizes, whether the value is signed."""
    import ctypes
    t = b[name]
    signed = issubclass(t.Leaf, (ctypes.c_byte, ctypes.c_short, ctypes.c_int, ctypes.c_long, ctypes.c_longlong))
    return {"fd": t.map_fd, "key_size": ctypes.sizeof(t.Key), "value_size": ctypes.sizeof(t.Leaf),
            "signed": signed}


def load_bundle(bundle, out, log_prefix="load-"):
    """Create a bundle's maps, patch their fds in and load every function. Returns (map fds by host fd,
    one entry per function with its fd, or -1 and the error; a "*maps*" entry when maps failed)."""
    import bpfsys
    import resource
    # Kernels before 5.11 charge maps to RLIMIT_MEMLOCK; libbcc lifts it the same way.
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    loads = []
    fds = {}
    try:
        for host_fd, info in bundle["maps"].items():
            fds[int(host_fd)] = bpfsys.create_map(info)
    except OSError as e:
        loads.append({"name": "*maps*", "loaded": False, "fd": -1, "error": "map create failed: %s" % (e,)})
    for fn in bundle["functions"]:
        entry = {"name": fn["name"], "loaded": False, "fd": -1, "error": "", "log": log_prefix + fn["name"] + ".log"}
        t0 = time.monotonic()
        if len(fds) == len(bundle["maps"]):
            insns = bpfsys.patch_map_fds(base64.b64decode(fn["insns"]), fds)
            entry["fd"], entry["error"], log = bpfsys.load_program(insns, fn["prog_type"], bundle["license"],
                                                                   bundle["kern_version"], fn["name"])
            entry["loaded"] = entry["fd"] >= 0
        else:
            entry["error"], log = "maps could not be created", ""
        with open(os.path.join(out, entry["log"]), "w") as f:
            f.write(log)
        entry["load_seconds"] = time.monotonic() - t0
        loads.append(entry)
    return fds, loads


def load_one(bundle_path, out):
    """Split mode, in the guest: load every function of a bundle and record the verdicts."""
    with open(bundle_path) as f:
        bundle = json.load(f)
    os.makedirs(out, exist_ok=True)
    fds, loads = load_bundle(bundle, out)
    for fd in list(fds.values()) + [e.pop("fd") for e in loads]:
        if fd >= 0:
            os.close(fd)
    with open(os.path.join(out, "loads.json"), "w") as f:
        json.dump(loads, f, indent=1)


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


def trigger_child(kind, port=0):
    """Fork the trigger process; it waits on a pipe so its pid can be set in the maps first.
    open: it opens /etc/hostname; tcp: it connects to 127.0.0.1:port (refused is fine)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        try:
            import ctypes
            ctypes.CDLL(None).prctl(15, b"harness-trig", 0, 0, 0)   # PR_SET_NAME: a comm to expect
            os.read(r, 1)
            # Block once more before acting: the programs' pid filters are set one after the other while
            # this child may already run on the other CPU, so a context-switch hook (finish_task_switch)
            # must see a switch into this child after all of them are set.
            time.sleep(0.02)
            if kind == "open":
                with open("/etc/hostname", "rb") as f:
                    f.read()
            elif kind == "tcp":
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    s.connect(("127.0.0.1", port))
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
        else:
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
            functions = [target]
            if target.startswith("re:"):
                from bcc import BPF
                functions = sorted(f.decode() for f in BPF.get_kprobe_functions(target[3:].encode()))
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


def run_trigger(words, programs, result):
    """The case's trigger child, with its pid set in the oracle's config map first when there is one."""
    import bpfsys
    pid, go = trigger_child(words[0], int(words[1]) if len(words) > 1 else 0)
    for cfg in filter(None, (p.table("__harness_cfg") for p in programs)):
        bpfsys.map_update(cfg["fd"], struct.pack("<I", 0), struct.pack("<I", pid).ljust(cfg["value_size"], b"\0"))
    result["pid"], result["ppid"] = pid, os.getpid()
    os.write(go, b"x")
    os.close(go)
    os.waitpid(pid, 0)


def run_oracle(case_path, out):
    """Differential oracle: both programs on the same event of one trigger process."""
    case, result, save = staged_result(case_path, out, "oracle.json")
    programs = {}
    try:
        for role in ("probe", "twin"):
            try:
                programs[role] = open_programs(case, role, os.path.dirname(case_path), out)
            except Exception as e:   # bcc's compile error, or (split mode) the loader's load error
                result["error"] = "%s does not compile or load: %s" % (role, e)
                return
        result["stage"] = "attach"
        save()
        for role, p in programs.items():
            redirect_fd2(os.path.join(out, "attach-%s.log" % role))
            for name, kind, target in case["attach"]:
                try:
                    p.attach(name, kind, target, None)
                except Exception as e:
                    result["error"] = "%s: attaching %s to %s %s failed: %s" % (role, name, kind, target, e)
                    return
        result["stage"] = "trigger"
        run_trigger(case.get("trigger", "open").split(), list(programs.values()), result)
        for role, p in programs.items():
            result["values"][role] = read_recorded(p.table("__harness_values"))
        result["stage"] = "done"
    finally:
        save()
        for p in programs.values():
            p.close()


EXTRACT_SHIM = """
import os
try:
    import bcc

    def _record(self, src_file=b"", hdr_file=b"", text=None, debug=0, cflags=[], *args, **kwargs):
        if text is None and src_file:
            with open(src_file, "rb") as f:
                text = f.read()
        if isinstance(text, bytes):
            text = text.decode()
        flags = " ".join(c.decode() if isinstance(c, bytes) else str(c) for c in (cflags or []))
        with open(os.environ["HARNESS_EXTRACT_OUT"], "w") as f:
            if flags:
                f.write("// CFLAGS: " + flags + "\\n")
            f.write(text or "")
        os._exit(0)

    bcc.BPF.__init__ = _record
except Exception:
    pass
"""


def extract_all(inp, out, job):
    """Each tool script, run with no arguments, writes the text it passes to BPF() and stops there."""
    shim = os.path.join("/tmp", "harness-extract-shim")
    os.makedirs(shim, exist_ok=True)
    with open(os.path.join(shim, "sitecustomize.py"), "w") as f:
        f.write(EXTRACT_SHIM)
    for n, tool in enumerate(job["tools"], 1):
        say("start", n, len(job["tools"]), tool)
        text_path = os.path.join(out, tool + ".c")
        env = dict(os.environ, PYTHONPATH=shim, HARNESS_EXTRACT_OUT=text_path)
        try:
            proc = subprocess.run([sys.executable, os.path.join(inp, "tools", tool)], env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=job.get("case_timeout", 60))
            code, err = proc.returncode, proc.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            code, err = "timeout", ""
        with open(os.path.join(out, tool + ".json"), "w") as f:
            json.dump({"tool": tool, "exit": code, "extracted": os.path.exists(text_path),
                       "stderr": err[-1500:]}, f)
        say("done", n, len(job["tools"]), tool, code)


def _add_file(tar, path, arcname):
    """Add a file by reading it: tracefs, debugfs and procfs files report a size of 0 to stat()."""
    import io
    with open(path, "rb") as f:
        data = f.read()
    info = tarfile.TarInfo(arcname)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


NET_NS, HOST_IF, PEER_IF = "harness-peer", "hveth0", "hveth1"
HOST_IP, PEER_IP = "10.200.0.1", "10.200.0.2"


SYS_INIT_MODULE = 175     # x86_64
NET_MODULES = ("veth", "sch_ingress", "cls_bpf")


def load_modules(names):
    """modprobe, for a root without kmod: resolve modules.dep, decompress, init_module(2)."""
    import ctypes
    import lzma
    base = "/lib/modules/%s" % os.uname().release
    deps = {}
    with open(os.path.join(base, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[os.path.basename(path).split(".ko")[0].replace("-", "_")] = (path, rest.split())
    libc = ctypes.CDLL(None, use_errno=True)
    done = set()

    def load(path):
        name = os.path.basename(path).split(".ko")[0].replace("-", "_")
        if name in done:
            return
        done.add(name)
        for dep in deps.get(name, (path, []))[1]:
            load(dep)
        with open(os.path.join(base, path), "rb") as f:
            image = f.read()
        if path.endswith(".xz"):
            image = lzma.decompress(image)
        if libc.syscall(SYS_INIT_MODULE, image, len(image), b"") != 0 and ctypes.get_errno() != 17:
            raise OSError(ctypes.get_errno(), "init_module %s failed" % name)
    for name in names:
        if name in deps and not os.path.exists("/sys/module/" + name):
            load(deps[name][0])


class Net(object):
    """A veth pair into a network namespace we create: the only hosts network cases talk to."""

    def __init__(self):
        from pyroute2 import netns
        self.netns = netns
        self.ipr = None
        load_modules(NET_MODULES)
        if NET_NS in netns.listnetns():      # left over by a case that died
            netns.remove(NET_NS)
        try:
            self._setup()
        except Exception:
            self.close()
            raise

    def _setup(self):
        from pyroute2 import IPRoute, NetNS
        netns = self.netns
        netns.create(NET_NS)
        self.ipr = IPRoute()
        self.ipr.link("add", ifname=HOST_IF, kind="veth", peer=PEER_IF)
        self.idx = self.ipr.link_lookup(ifname=HOST_IF)[0]
        peer = self.ipr.link_lookup(ifname=PEER_IF)[0]
        self.ipr.link("set", index=peer, net_ns_fd=NET_NS)
        self.ipr.addr("add", index=self.idx, address=HOST_IP, prefixlen=24)
        self.ipr.link("set", index=self.idx, state="up")
        ns = NetNS(NET_NS)
        try:
            pidx = ns.link_lookup(ifname=PEER_IF)[0]
            ns.addr("add", index=pidx, address=PEER_IP, prefixlen=24)
            ns.link("set", index=pidx, state="up")
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        finally:
            ns.close()

    def attach(self, kind, fd, target, bcc_fn=None):
        """tc through pyroute2 in both modes; XDP and socket filters through bcc when bcc loaded the
        program (guest mode), else through pyroute2 and a packet socket, as libbcc does it."""
        if kind == "tc":
            self.ipr.tc("add", "clsact", self.idx)
            parent = "ffff:fff2" if target == "ingress" else "ffff:fff3"
            self.ipr.tc("add-filter", "bpf", self.idx, ":1", fd=fd, name="harness", parent=parent,
                        classid=1, direct_action=True)
        elif kind == "xdp" and bcc_fn is not None:
            from bcc import BPF
            BPF.attach_xdp(HOST_IF, bcc_fn, 1 << 1)        # XDP_FLAGS_SKB_MODE: generic, any driver
        elif kind == "xdp":
            self.attach_xdp(fd)
        elif kind == "socket" and bcc_fn is not None:
            from bcc import BPF
            BPF.attach_raw_socket(bcc_fn, HOST_IF)
            self.keep = bcc_fn
        elif kind == "socket":
            import socket
            self.keep = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))   # ETH_P_ALL
            self.keep.bind((HOST_IF, 0))
            self.keep.setsockopt(socket.SOL_SOCKET, 50, fd)                                # SO_ATTACH_BPF
        else:
            raise ValueError("cannot attach %s" % kind)

    def attach_xdp(self, fd):
        """XDP through pyroute2 with IFLA_XDP_FD alone, so the kernel picks the mode (native on veth):
        pyroute2 0.7 and 0.8 encode IFLA_XDP_FLAGS in 16 bits where the kernel wants 32, and 0.5 only
        knows IFLA_XDP as raw bytes."""
        from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
        if hasattr(ifinfmsg, "xdp"):
            self.ipr.link("set", index=self.idx, xdp={"attrs": [("IFLA_XDP_FD", fd)]})
        else:
            self.ipr.link("set", index=self.idx, xdp=struct.pack("<HHi", 8, 1, fd))

    def send_udp(self, count, size, port):
        import socket
        self.netns.pushns(NET_NS)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        finally:
            self.netns.popns()
        for _ in range(count):
            s.sendto(b"h" * size, (HOST_IP, port))
            time.sleep(0.05)
        s.close()
        time.sleep(0.3)

    def close(self):
        if self.ipr is not None:
            try:
                for idx in self.ipr.link_lookup(ifname=HOST_IF):
                    self.ipr.link("del", index=idx)
            except Exception:
                pass
            self.ipr.close()
        try:
            self.netns.remove(NET_NS)
        except Exception:
            pass


def run_runtime(case_path, out):
    """Runtime checks: attach the case, run its trigger, read the map values its EXPECT-MAP lines name."""
    case, result, save = staged_result(case_path, out, "runtime.json")
    net = programs = None
    trigger = case.get("trigger", "open").split()
    try:
        programs = open_programs(case, "runtime", os.path.dirname(case_path), out)
        if trigger[0] == "udp" or any(kind in NET_KINDS for _, kind, _ in case["attach"]):
            result["stage"] = "network"
            save()
            net = Net()
        result["stage"] = "attach"
        for name, kind, target in case["attach"]:
            programs.attach(name, kind, target, net)
        result["stage"] = "trigger"
        save()
        if trigger[0] == "udp":
            net.send_udp(int(trigger[1]), int(trigger[2]), int(trigger[3]))
        else:
            run_trigger(trigger, [], result)
        for name, key, _op, _value in case["expect_map"]:
            result["values"]["%s[%d]" % (name, key)] = read_int(programs.table(name), key)
        result["stage"] = "done"
    except Exception as e:
        result["error"] = "%s: %s: %s" % (result["stage"], type(e).__name__, e)
    finally:
        save()
        if net is not None:
            net.close()
        if programs is not None:
            programs.close()


def capture(out):
    """This kernel's personality: what bcc reads from the running kernel while compiling."""
    dest = os.path.join(out, "personality.tar.gz")
    tracing = "/sys/kernel/debug/tracing" if os.path.isdir("/sys/kernel/debug/tracing/events") \
        else "/sys/kernel/tracing"
    with tarfile.open(dest, "w:gz") as tar:
        for path, arc in (("/proc/kallsyms", "kallsyms"), ("/sys/kernel/btf/vmlinux", "btf/vmlinux"),
                          ("/sys/kernel/debug/kprobes/blacklist", "kprobes/blacklist"),
                          (tracing + "/available_filter_functions", "tracing/available_filter_functions")):
            if os.path.exists(path):
                _add_file(tar, path, arc)
        for fmt in glob.glob(tracing + "/events/*/*/format") + glob.glob(tracing + "/events/*/*/id"):
            _add_file(tar, fmt, "tracing/" + os.path.relpath(fmt, tracing))
    say("captured", dest)


def pack(out, device):
    """Write all results so far onto the output disk, so a guest killed later keeps them."""
    if not device or not os.path.exists(device):
        return
    with open(device, "r+b") as dev:
        with tarfile.open(fileobj=dev, mode="w") as tar:
            tar.add(out, arcname=".")
        dev.flush()
        os.fsync(dev.fileno())


def run_all(inp, out):
    with open(os.path.join(inp, "job.json")) as f:
        job = json.load(f)
    mode = job.get("mode", "run")
    if mode == "extract":
        extract_all(inp, out, job)
        return
    if mode == "capture":
        capture(out)
        pack(out, job.get("output_device"))
        return
    timeout = job.get("case_timeout", 900)
    cases = job["cases"]
    status = open(os.path.join(out, "status"), "a")
    for n, case in enumerate(cases, 1):
        case_out = os.path.join(out, case["id"])
        os.makedirs(case_out, exist_ok=True)
        if mode == "load":
            arg = os.path.join(inp, "bundles", case["id"], "bundle.json")
        elif mode in ("oracle", "runtime"):
            arg = os.path.join(inp, "%s-%d.json" % (mode, n))
            with open(arg, "w") as f:
                json.dump(case, f)
        else:
            arg = os.path.join(inp, "case-%d.json" % n)
            with open(arg, "w") as f:
                json.dump(case, f)
        say("start", n, len(cases), case["id"])
        t0 = time.monotonic()
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--one", mode, arg, case_out],
                                 start_new_session=True)
        try:
            code = child.wait(timeout=timeout)
            verdict = "exit-%d" % code if code >= 0 else "signal-%d" % -code
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            verdict = "timeout-%d" % timeout
        seconds = time.monotonic() - t0
        status.write("%s:%s:%.3f\n" % (case["id"], verdict, seconds))
        status.flush()
        os.fsync(status.fileno())
        pack(out, job.get("output_device"))
        say("done", n, len(cases), case["id"], verdict, "%.1fs" % seconds)
    status.close()


def main(argv):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if argv[1:2] == ["--one"]:
        mode, arg, out = argv[2], argv[3], argv[4]
        if mode == "load":
            load_one(arg, out)
        elif mode == "oracle":
            run_oracle(arg, out)
        elif mode == "runtime":
            run_runtime(arg, out)
        else:
            run_one(arg, out, mode)
    else:
        with open(os.path.join(argv[2], "guest.json"), "w") as f:
            json.dump({"python": sys.version.split()[0], "uname": os.uname().release}, f)
        run_all(argv[1], argv[2])


if __name__ == "__main__":
    main(sys.argv)
