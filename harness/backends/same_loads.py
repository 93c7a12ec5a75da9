"""Bundles that the kernel loads the same way, loaded once (split mode's loading boot).

A kernel group's loading VM gets every rewriter's bundles for that kernel. Rewriters often emit the same
program: on linux-6.12, 686 bundles of the whole corpus held 342 distinct ones. The verifier's verdict and
log are a function of what it is given: each function's name (it picks the expected attach type and the
BTF target), program type and instructions, the license, the kernel version field, and the maps'
definitions, in one kernel. Two bundles equal in all of that, with map fds numbered by first use (a fd
number says what the compiling process had open, nothing about the program), load the same way. So only
the first of them is loaded; the others get its loads, logs and verdict, and say whose they are.
"""

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Dict, List, Tuple

from ..guest import bpfsys


def load_key(bundle: dict) -> str:
    """A digest of everything in a bundle the kernel's load depends on, map fds replaced by their rank."""
    raw = [(fn["name"], fn["prog_type"], base64.b64decode(fn["insns"])) for fn in bundle["functions"]]
    fds: List[int] = []
    for _, _, insns in raw:
        fds += [fd for fd in bpfsys.map_fds(insns) if fd not in fds]
    rank = {fd: k for k, fd in enumerate(fds)}
    maps = bundle["maps"]
    what = {"license": bundle["license"], "kern_version": bundle["kern_version"],
            "functions": [(name, kind, bpfsys.patch_map_fds(insns, rank).hex()) for name, kind, insns in raw],
            # every map the bundle creates, those no instruction names last (the loader creates them all)
            "maps": [maps[str(fd)] for fd in fds if str(fd) in maps] +
                    sorted((info for fd, info in maps.items() if int(fd) not in rank), key=json.dumps)}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def first_of_each(bundles: List[Tuple[str, Path]]) -> Tuple[List[str], Dict[str, str]]:
    """(the names to load, {the name of a bundle not loaded: the name of the one loaded in its place})."""
    first: Dict[str, str] = {}
    load, same = [], {}
    for name, path in bundles:
        key = load_key(json.loads(path.read_text()))
        if key in first:
            same[name] = first[key]
        else:
            first[key] = name
            load.append(name)
    return load, same


def fill_in(loaded: Path, same: Dict[str, str], say: Dict[str, str]) -> None:
    """In the loading VM's output dir: each bundle not loaded gets a copy of its twin's case dir, with its
    loads marked as the twin's (`same_as`, the twin's name with its prefix spelled as `say` has it: the
    job's cell), and its twin's status verdict. The twin's loads may be missing (a VM that died first):
    then so are its copies'."""
    status = {line.split(":", 1)[0]: line.split(":") for line in _lines(loaded / "status")}
    added = []
    for name, twin in same.items():
        if not (loaded / twin).is_dir():
            continue
        if (loaded / name).exists():
            shutil.rmtree(loaded / name)
        shutil.copytree(loaded / twin, loaded / name)
        loads_json = loaded / name / "loads.json"
        if loads_json.exists():
            loads = json.loads(loads_json.read_text())
            spelled = next((say[p] + twin[len(p):] for p in say if twin.startswith(p)), twin)
            loads_json.write_text(json.dumps([dict(entry, same_as=spelled) for entry in loads], indent=1))
        if twin in status:
            # no work of its own was done: 0 s in the VM
            added.append(f"{name}:{status[twin][1]}:0.000\n")
    if added:
        with open(loaded / "status", "a") as f:
            f.writelines(added)


def _lines(path: Path) -> List[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []
