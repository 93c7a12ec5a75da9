"""The harness's program inside a guest: compile and load each case with bcc, record raw facts.

Stdlib only, Python 3.9 to 3.13 (it runs with the rewriter root's own python3).

    runner.py IN OUT           run every case of IN/job.json, one child process each
    runner.py --one CASE OUT   (internal) the child: one BPF() and its loads

Every case runs in its own process so a crash or hang of bcc loses only that case. Results are files:
OUT/<case>/result.json (written by the child), OUT/<case>/compile.log (fd 2 during BPF(), which
holds bcc's rewritten text and clang's diagnostics), OUT/<case>/load-<function>.log (fd 2 during each
load, which holds the verifier log), and OUT/status with one "case:code" line per finished case
(a missing line means the guest died first).
"""

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


def redirect_fd2(path):
    """Point fd 2 at a file: bcc's C++ writes there directly, so sys.stderr is not enough."""
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 2)
    os.close(fd)


def run_one(case_path, out):
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

    class NoAutoAttach(BPF):
        # BPF() attaches kprobe__*/tracepoint__* functions itself; we load by name instead.
        def _trace_autoload(self):
            pass

    t0 = time.monotonic()
    try:
        with open(os.path.join(os.path.dirname(case_path), case["file"])) as f:
            text = f.read()
        b = NoAutoAttach(text=text, debug=DEBUG_PREPROCESSOR)
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
    timeout = job.get("case_timeout", 900)
    cases = job["cases"]
    status = open(os.path.join(out, "status"), "a")
    for n, case in enumerate(cases, 1):
        case_out = os.path.join(out, case["id"])
        os.makedirs(case_out, exist_ok=True)
        case_json = os.path.join(inp, "case-%d.json" % n)
        with open(case_json, "w") as f:
            json.dump(case, f)
        say("start", n, len(cases), case["id"])
        t0 = time.monotonic()
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--one", case_json, case_out],
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
    if argv[1:2] == ["--one"]:
        run_one(argv[2], argv[3])
    else:
        with open(os.path.join(argv[2], "guest.json"), "w") as f:
            json.dump({"python": sys.version.split()[0], "uname": os.uname().release}, f)
        run_all(argv[1], argv[2])


if __name__ == "__main__":
    main(sys.argv)
