"""Mode extract: run Python tool scripts with BPF() replaced by a recorder of the text they compile and of
the program types their load_func/attach_* calls give each function, and the attach calls themselves
(where, so that triage can give the value oracle ATTACH points).

On the host this runs in the report sandbox (harness/sandbox.py) as PID 1 of its own PID namespace:
each script gets OUT/<tool>.d as its working (scratch) directory, and whatever it leaves running is
killed before the next one starts."""

import json
import os
import signal
import subprocess
import sys

from guestlib import say

EXTRACT_SHIM = """
import atexit
import inspect
import json
import os
import re
import signal
try:
    import bcc

    # What the script compiles, then how it loads and attaches each function: BPF() records the text
    # and returns an object whose load_func/attach_* calls record the program types (as // PROG: lines
    # after the text, so line numbers stay) and each attach call's arguments (as // ATTACH-CALL: lines
    # of JSON, judged on the host). Anything else (reading a map, polling) ends the script.
    _TYPES = {1: "socket_filter", 2: "kprobe", 3: "sched_cls", 5: "tracepoint", 6: "xdp", 7: "perf_event",
              8: "cgroup_skb", 9: "cgroup_sock", 13: "sock_ops", 16: "sk_msg", 17: "raw_tracepoint",
              25: "cgroup_sockopt", 26: "fentry", 29: "lsm"}
    _state = {"text": None, "flags": "", "types": {}, "calls": []}
    _CALL_ARGS = ("fn_name", "fn", "event", "event_re", "tp", "tp_re", "name", "sym", "sym_re", "dev")
    _MAX_CALLS = 64

    def _name(fn):
        fn = getattr(fn, "name", fn)
        return fn.decode() if isinstance(fn, bytes) else str(fn or "")

    def _note(fn, kind):
        name = _name(fn)
        if kind == "fentry" and name.startswith("kretfunc__"):
            kind = "fexit"
        if name and kind and _state["text"] is not None and re.search(r"\\b%s\\s*\\(" % re.escape(name),
                                                                     _state["text"]):
            _state["types"].setdefault(name, kind)
        _write()

    def _write():
        if _state["text"] is None:
            return
        with open(os.environ["HARNESS_EXTRACT_OUT"], "w") as f:
            if _state["flags"]:
                f.write("// CFLAGS: " + _state["flags"] + "\\n")
            f.write(_state["text"])
            if _state["types"] or _state["calls"]:
                f.write("\\n" if not _state["text"].endswith("\\n") else "")
            for name, kind in sorted(_state["types"].items()):
                f.write("// PROG: %s %s\\n" % (name, kind))
            for call in _state["calls"]:
                f.write("// ATTACH-CALL: %s\\n" % json.dumps(call, sort_keys=True))

    def _finish(*_args, **_kwargs):
        _write()
        os._exit(0)

    class _Function(object):
        def __init__(self, bpf, name):
            self.bpf, self.name, self.fd = bpf, name, -1

    def _record(self, src_file=b"", hdr_file=b"", text=None, debug=0, cflags=[], *args, **kwargs):
        if text is None and src_file:
            with open(src_file, "rb") as f:
                text = f.read()
        if isinstance(text, bytes):
            text = text.decode()
        _state["text"] = text or ""
        _state["flags"] = " ".join(c.decode() if isinstance(c, bytes) else str(c) for c in (cflags or []))
        _write()
        atexit.register(_write)
        signal.signal(signal.SIGALRM, _finish)     # a script that never touches a map still ends
        signal.alarm(5)

    def _load_func(self, func_name, prog_type, *args, **kwargs):
        _note(func_name, _TYPES.get(prog_type, ""))
        return _Function(self, func_name)

    def _value(value):
        if isinstance(value, (list, tuple)):
            return [_value(v) for v in value[:16]]
        value = getattr(value, "name", value)
        return (value.decode(errors="replace") if isinstance(value, bytes) else str(value))[:200]

    # An attach call's arguments by name, as this bcc's own signature binds them (positional ones too).
    def _call(call, orig, args, kwargs):
        try:
            given = inspect.signature(orig).bind(*args, **kwargs).arguments
        except (TypeError, ValueError):
            given = dict(kwargs)
        try:
            if len(_state["calls"]) < _MAX_CALLS:     # a loop of calls must not grow the record without bound
                _state["calls"].append(dict([("call", call)] + [(k, _value(given[k])) for k in _CALL_ARGS
                                                                if given.get(k) not in (None, "", b"")]))
        except Exception:       # an argument we cannot show: the call goes unrecorded, the script runs on
            pass
        return given

    def _attach(kind, key, call):
        orig = getattr(bcc.BPF, call, None)

        def attach(self, *args, **kwargs):
            given = _call(call, orig, (self,) + args, kwargs)
            fn = given.get("fn_name", given.get("fn", args[key] if len(args) > key else ""))
            _note(fn, kind)
        return attach

    # An attach call the oracle cannot use (a device, a function object): recorded, so triage names it.
    def _other(call, static=False):
        orig = getattr(bcc.BPF, call, None)

        def attach(*args, **kwargs):
            _call(call, orig, args, kwargs)
            _write()
        return staticmethod(attach) if static else attach

    bcc.BPF.__init__ = _record
    bcc.BPF.__del__ = lambda self: None
    bcc.BPF.load_func = _load_func
    for _call_name, _kind, _key in (("attach_kprobe", "kprobe", 1), ("attach_kretprobe", "kretprobe", 1),
                                    ("attach_tracepoint", "tracepoint", 1),
                                    ("attach_raw_tracepoint", "raw_tracepoint", 1), ("attach_uprobe", "uprobe", 2),
                                    ("attach_uretprobe", "uretprobe", 2), ("attach_perf_event", "perf_event", 2),
                                    ("attach_kfunc", "fentry", 0), ("attach_kretfunc", "fexit", 0),
                                    ("attach_lsm", "lsm", 0)):
        setattr(bcc.BPF, _call_name, _attach(_kind, _key, _call_name))
    bcc.BPF.attach_xdp = _other("attach_xdp")
    bcc.BPF.attach_func = _other("attach_func")
    bcc.BPF.attach_raw_socket = _other("attach_raw_socket", static=True)
    for _end in ("__getitem__", "__iter__", "get_table", "perf_buffer_poll", "ring_buffer_poll",
                 "ring_buffer_consume", "trace_print", "trace_fields", "trace_readline", "kprobe_poll"):
        setattr(bcc.BPF, _end, _finish)
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
        scratch = os.path.join(out, tool + ".d")
        os.makedirs(scratch, exist_ok=True)
        err_path = os.path.join(out, tool + ".stderr")
        try:
            with open(err_path, "wb") as err_file:     # a file, not a pipe: its size is the script's limit
                proc = subprocess.run([sys.executable, os.path.join(inp, "tools", tool)], env=env, cwd=scratch,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err_file,
                                      timeout=job.get("case_timeout", 60))
            code = proc.returncode if proc.returncode >= 0 else "signal-%d" % -proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        if os.getpid() == 1:    # the sandbox's init: nothing the script started outlives it (fork bombs)
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        err = _tail(err_path, 1500)
        with open(os.path.join(out, tool + ".json"), "w") as f:
            json.dump({"tool": tool, "exit": code, "extracted": os.path.exists(text_path),
                       "stderr": err[-1500:]}, f)
        say("done", n, len(job["tools"]), tool, code)


def _tail(path, size):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""
