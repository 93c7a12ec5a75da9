"""Where untrusted input runs on the host: report scripts in a capability-less sandbox, untrusted C compiles
in a memory-capped cgroup.

Report scripts (triage reports, imported tools' Python) run here rather than in the target VM: a VM
costs a boot per report under TCG (minutes) and gives no better guarantee than a user namespace that
holds no capability over anything of the host. The sandbox (`run_untrusted`):

- a new user namespace whose root is uid/gid 65534 outside (written by the launcher, which is real
  root in the parent namespace), so the script has no capability in any host namespace: no bpf(),
  init_module(), mount() on host mounts, no signals to host processes, no access to root-owned files;
- its own mount, PID, IPC, UTS, network (no interfaces) and cgroup namespaces; the rewriter's root
  filesystem read-only, reached by pivot_root with the host's tree detached (no chroot to escape);
  /dev holds only null, zero and urandom; /proc is a fresh one of the new PID namespace;
- every capability dropped (bounding, ambient and inheritable sets; securebits noroot), no_new_privs,
  nested user namespaces refused (max_user_namespaces 0);
- limits: a cgroup with memory and pids caps (cgroup v2 or v1, whichever the host offers), plus rlimits
  on CPU time, file size, processes, open files (and address space where no cgroup could be made);
- the only writable places are a size-capped tmpfs scratch directory (copied out, regular files only,
  when the sandbox ends) and a size-capped private /tmp.

Untrusted C compiles (split mode) cannot use that sandbox: bcc creates the program's maps with bpf() in
the host kernel while compiling, which needs capabilities in the host's namespace. They keep split
mode's sandbox (root in a private mount, PID and network namespace), with /dev reduced to the same three
nodes, inside a cgroup whose memory cap bounds map memory (the kernel charges map memory to the
creating process's cgroup); nothing of theirs is ever loaded there (see backends/split.py).

The launcher, the process that builds the sandbox, is sandbox_launch.py.
"""

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

LAUNCHER = Path(__file__).resolve().with_name("sandbox_launch.py")


@dataclass(frozen=True)
class Limits:
    memory: int            # bytes, the whole sandbox (cgroup memory cap)
    pids: int              # processes and threads at once
    cpu_seconds: int       # per process (RLIMIT_CPU)
    file_size: int         # bytes, any one file (RLIMIT_FSIZE)
    scratch: int           # bytes, each writable tmpfs (scratch dir, /tmp)
    open_files: int = 256


# A report script only records the text it would compile: small numbers leave ample room.
REPORT_LIMITS = Limits(memory=1 << 30, pids=64, cpu_seconds=60, file_size=16 << 20, scratch=32 << 20)
# A compile of kernel headers peaks well under 1 GiB; the rest bounds the maps bcc creates.
COMPILE_MEMORY = 2 << 30
# An untrusted compile's /tmp holds shared-header PCHs (6-19 MB each; guest/shared_headers.py keeps only
# the include sets still to be used). Its pages count against COMPILE_MEMORY like the compile's own.
COMPILE_SCRATCH = 256 << 20
COMPILE_PIDS = 256


# ---- cgroups ---------------------------------------------------------------------------------

def _mounts() -> List[Tuple[str, str, List[str]]]:
    """(mount point, fs type, super options) of every mount."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        fstype, _src, opts = right.split(" ", 2)
        found.append((left.split()[4], fstype, opts.split(",")))
    return found


def _own_cgroups() -> dict:
    """controller (or '' for v2) -> this process's cgroup path."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _n, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            own[c] = path
    return own


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


class Cgroup:
    """A fresh cgroup with a memory cap and a pids cap, on cgroup v2 or on v1's memory and pids
    hierarchies. `create` returns None when this host lets us make none (no cgroupfs, not root)."""

    def __init__(self, dirs: List[Path], version: int, limits: Tuple[int, int]):
        self.dirs, self.version, self.memory, self.pids = dirs, version, limits[0], limits[1]

    @classmethod
    def create(cls, name: str, memory: int, pids: int) -> Optional["Cgroup"]:
        name = f"harness-{name}-{os.getpid()}-{time.monotonic_ns()}"
        mounts, own = _mounts(), _own_cgroups()
        v2 = next((m for m, t, _ in mounts if t == "cgroup2"), None)
        if v2 and own.get("") is not None:
            made = cls._create_v2(Path(v2), own[""], name, memory, pids)
            if made:
                return made
        v1 = {c: m for m, t, opts in mounts if t == "cgroup" for c in ("memory", "pids") if c in opts}
        if "memory" in v1:
            return cls._create_v1(v1, own, name, memory, pids)
        return None

    @classmethod
    def _create_v2(cls, mount: Path, own: str, name: str, memory: int, pids: int) -> Optional["Cgroup"]:
        """Under our own cgroup when it already delegates memory and pids to children; else under a
        'harness-sandbox' parent at the top (the no-internal-processes rule forbids enabling controllers
        in a cgroup that holds processes, such as ours)."""
        here = mount / own.lstrip("/")
        parents = [here] if _controllers(here / "cgroup.subtree_control") >= {"memory", "pids"} else []
        top = mount / "harness-sandbox"
        if _controllers(mount / "cgroup.controllers") >= {"memory", "pids"}:
            _write(mount / "cgroup.subtree_control", "+memory +pids")
            try:
                top.mkdir(exist_ok=True)
                _write(top / "cgroup.subtree_control", "+memory +pids")
                if _controllers(top / "cgroup.subtree_control") >= {"memory", "pids"}:
                    parents.append(top)
            except OSError:
                pass
        for parent in parents:
            _remove_stale(parent)
            d = parent / name
            try:
                d.mkdir()
            except OSError:
                continue
            if _write(d / "memory.max", str(memory)) and _write(d / "pids.max", str(pids)):
                _write(d / "memory.swap.max", "0")
                return cls([d], 2, (memory, pids))
            d.rmdir()
        return None

    @classmethod
    def _create_v1(cls, mounts: dict, own: dict, name: str, memory: int, pids: int) -> Optional["Cgroup"]:
        dirs, capped = [], set()
        for controller, limit_file, value in (("memory", "memory.limit_in_bytes", memory),
                                              ("pids", "pids.max", pids)):
            if controller not in mounts:
                continue
            d = Path(mounts[controller]) / own.get(controller, "/").lstrip("/") / name
            _remove_stale(d.parent)
            try:
                d.mkdir()
            except OSError:
                continue
            if _write(d / limit_file, str(value)):
                dirs.append(d)
                capped.add(controller)
            else:
                d.rmdir()
        if "memory" not in capped:
            for d in dirs:
                d.rmdir()
            return None
        # no escape into swap (the file is absent where swap accounting is off)
        _write(dirs[0] / "memory.memsw.limit_in_bytes", str(memory))
        return cls(dirs, 1, (memory, pids if "pids" in capped else 0))

    @property
    def procs(self) -> List[str]:
        """The files a process writes its pid to, to join."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def _read(self, name: str) -> str:
        for d in self.dirs:
            if (d / name).exists():
                try:
                    return (d / name).read_text()
                except OSError:
                    return ""
        return ""

    def hit(self) -> List[str]:
        """Which caps the sandbox ran into, for the verdict."""
        hits = []
        if self.version == 2:
            events = dict(line.split() for line in self._read("memory.events").splitlines() if line.strip())
            if int(events.get("max", 0)) or int(events.get("oom_kill", 0)):
                hits.append(f"memory ({self.memory >> 20} MiB)")
        elif int(self._read("memory.failcnt") or 0) or \
                int(self._read("memory.max_usage_in_bytes") or 0) >= self.memory - (16 << 20):
            # v1 does not count a failed kernel allocation (a map's) in failcnt; its peak shows it
            hits.append(f"memory ({self.memory >> 20} MiB)")
        pid_events = dict(line.split() for line in self._read("pids.events").splitlines() if line.strip())
        if int(pid_events.get("max", 0)):
            hits.append(f"processes ({self.pids})")
        return hits

    def peak(self) -> int:
        """The most memory the sandbox held at once (bytes; 0 where the kernel does not say)."""
        return int(self._read("memory.peak" if self.version == 2 else "memory.max_usage_in_bytes") or 0)

    def close(self) -> None:
        """Kill whatever is left in it, then remove it."""
        for d in self.dirs:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for p in pids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.05)
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError as e:
                    if e.errno == errno.ENOENT:
                        break
                    time.sleep(0.05)


def _remove_stale(parent: Path) -> None:
    """Empty cgroups of ours whose harness process is gone (killed before it could remove them)."""
    for d in parent.glob("harness-*-*-*"):
        pid = d.name.rsplit("-", 2)[-2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            try:
                d.rmdir()
            except OSError:
                pass


def _controllers(path: Path) -> set:
    try:
        return set(path.read_text().split())
    except OSError:
        return set()


# ---- what an untrusted compile may ask of clang ------------------------------------------------

SAFE_CFLAG = re.compile(r"-[DU]\S+|-I[^\s,]+|-O[0-3sz]?|-std=[\w+]+|-W[\w=-]+|-w|-g[0-3]?")


def unsafe_cflags(cflags: Sequence[str]) -> List[str]:
    """Compiler flags an untrusted program may not pass: anything beyond macros, include dirs,
    optimisation, language standard and warnings (e.g. -Xclang -load, -fplugin, -Wp,... could make
    clang run code or write files as root on the host)."""
    return [f for f in cflags if not SAFE_CFLAG.fullmatch(f)]


# ---- the report sandbox (host side) -------------------------------------------------------------

@dataclass(frozen=True)
class Sandboxed:
    out: Path              # what the script left in its scratch directory (regular files only)
    problem: str           # '' when the sandbox ran to the end
    exit: object           # the program's exit code, or "signal-N", "timeout", "setup-failed"
    hit: Tuple[str, ...]   # limits it ran into


def run_untrusted(mounts: List[list], root: Path, argv: List[str], env: dict, work: Path, name: str,
                  limits: Limits, timeout: float, stop=lambda: False) -> Sandboxed:
    """Run `argv` in the report sandbox. `mounts` build its tree under `root` (see
    sandbox_launch.apply_mounts); the scratch directory appears at /run/harness/out and holds everything
    the program may write."""
    out = work / f"{name}-out"
    scratch = work / f"{name}-scratch"      # mount point of the launcher's private tmpfs
    for d in (out, scratch):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    status = work / f"{name}-status.json"
    status.unlink(missing_ok=True)
    cg = Cgroup.create(name, limits.memory, limits.pids)
    spec = {"mounts": mounts, "root": str(root), "argv": argv, "env": env, "limits": asdict(limits),
            "scratch": str(scratch), "out": str(out), "status": str(status), "timeout": timeout,
            "cgroup_procs": cg.procs if cg else [], "bounded_memory": bool(cg and cg.memory),
            "bounded_pids": bool(cg and cg.pids)}
    spec_path = work / f"{name}-spec.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    console = work / f"{name}.console"
    try:
        with open(console, "w") as log:
            proc = subprocess.Popen([sys.executable, str(LAUNCHER), str(spec_path)],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            t0 = time.monotonic()
            while proc.poll() is None:
                time.sleep(0.1)
                late = time.monotonic() - t0 > timeout + 30     # the launcher enforces `timeout` itself
                if stop() or late:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
        hit = tuple(cg.hit()) if cg else ()
    finally:
        if cg:
            cg.close()
    try:
        result = json.loads(status.read_text())
    except (OSError, ValueError):
        result = {"exit": "setup-failed"}
    code = result.get("exit")
    problem = ""
    if code == "setup-failed":
        tail = console.read_text(errors="replace").strip().splitlines()[-1:] if console.exists() else []
        problem = f"the sandbox could not be set up ({tail[0] if tail else 'no output'}; see {console})"
    elif stop():
        problem = "interrupted"
    elif code == "timeout":
        problem = f"the sandbox stopped it after {timeout:.0f}s"
    elif code != 0:
        problem = f"the sandboxed program ended with {code}"
    return Sandboxed(out, problem, code, hit)
