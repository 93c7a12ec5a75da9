"""Modes run (guest mode: compile with bcc and load here) and compile (split mode, on the host:
compile with bcc and export a load bundle; nothing is loaded)."""

import base64
import json
import os
import time

from guestlib import (DEBUG_PREPROCESSOR, DEBUG_SOURCE, bcc_prog_type, bytecode_facts, prog_type_for,
                      quiet_bpf_class, redirect_fd2)


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

    t0, cpu0 = time.monotonic(), _cpu()
    try:
        with open(os.path.join(os.path.dirname(case_path), case["file"])) as f:
            text = f.read()
        cflags = case.get("cflags", []) + (["-include-pch", case["pch"]] if case.get("pch") else [])
        b = NoAutoAttach(text=text, debug=DEBUG_PREPROCESSOR | DEBUG_SOURCE, cflags=cflags)
    except Exception as e:
        result["error"] = "%s: %s" % (type(e).__name__, e)
        _timed(result, t0, cpu0)
        save()
        return
    result["compiled"] = True
    _timed(result, t0, cpu0)
    save()

    names = [lib.bpf_function_name(b.module, i).decode() for i in range(lib.bpf_num_functions(b.module))]
    types = case.get("prog_types", {})
    if mode == "compile":
        if case.get("canon"):       # shared headers' fidelity check (shared_headers.py)
            from pch_fidelity import canonical_program
            with open(os.path.join(out, "canonical.json"), "w") as f:
                json.dump(canonical_program(b, lib, names), f, sort_keys=True)
        export_bundle(b, lib, names, types, case, out, result)
    else:
        import bpfsys
        for name in names:
            kind = prog_type_for(name, types, case.get("default_prog_type", "kprobe"))
            fn = {"name": name, "prog_type": kind, "loaded": False, "error": "", "log": "load-%s.log" % name}
            try:
                fn["insns"], fn["probe_reads"] = bytecode_facts(b.dump_func(name))
            except Exception as e:
                fn["error"] = "dump_func: %s" % (e,)
            redirect_fd2(os.path.join(out, fn["log"]))
            t0 = time.monotonic()
            try:
                attach = bpfsys.expected_attach_type(kind, name) if kind == "cgroup_sockopt" else 0
                b.load_func(name, bcc_prog_type(BPF, kind), **({"attach_type": attach} if attach else {}))
                fn["loaded"] = True
            except Exception as e:
                fn["error"] = "%s: %s" % (type(e).__name__, e)
            fn["load_seconds"] = time.monotonic() - t0
            result["functions"].append(fn)
            save()
    result["done"] = True
    save()


def _cpu():
    t = os.times()
    return t.user + t.system


def _timed(result, t0, cpu0):
    """The compile's wall time and its own CPU time: the wall time also counts waiting for a core that
    other processes held (the benchmark reports its floor both ways)."""
    result["timings"]["compile"] = time.monotonic() - t0
    result["timings"]["compile_cpu"] = _cpu() - cpu0


def export_bundle(b, lib, names, types, case, out, result):
    """Split mode: everything a loader needs to load the programs in another kernel."""
    import bpfsys
    bundle = {"license": lib.bpf_module_license(b.module).decode(),
              "kern_version": int(lib.bpf_module_kern_version(b.module)), "functions": [], "maps": {},
              "tables": {}}
    for name in names:
        insns = b.dump_func(name)
        kind = prog_type_for(name, types, case.get("default_prog_type", "kprobe"))
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
