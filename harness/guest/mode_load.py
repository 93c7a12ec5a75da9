"""Mode load (split mode, in the guest): create a bundle's maps and load its programs with the
verifier log, through raw bpf(2) (bpfsys.py)."""

import base64
import json
import os
import time


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
