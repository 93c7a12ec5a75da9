"""Where untrusted input runs on the host: report scripts in a capability-less sandbox, untrusted C compiles
in a memory-capped cgroup.

Report scripts (triage reports, imported tools' Python) run here rather than in the target VM: a VM
costs a boot per report under TCG (minutes) and gives no better guarantee than a user namespace that
holds no capability over anything of the host. The sandbox (`run_untrusted`):

- a new user namespace whose root is uid/gid 65534 outside (written by this launcher, which is real
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

This file is stdlib-only: `python sandbox.py SPEC` is the launcher process.
"""

import ctypes
import errno
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

OUTSIDE_ID = 65534        # nobody/nogroup: what the sandbox's root is on the host


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
    """Run `argv` in the report sandbox. `mounts` build its tree under `root` (see apply_mounts); the
    scratch directory appears at /run/harness/out and holds everything the program may write."""
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
            proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(spec_path)],
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


def copy_regular_files(src: Path, dest: Path) -> None:
    """Copy what the sandbox wrote, never following its symlinks nor copying devices or fifos."""
    for here, dirs, files in os.walk(src, followlinks=False):
        rel = Path(here).relative_to(src)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            try:
                fd = os.open(os.path.join(here, f), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            with os.fdopen(fd, "rb") as r:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    with open(dest / rel / f, "wb") as w:
                        shutil.copyfileobj(r, w)


# ---- the launcher (runs as `python sandbox.py SPEC`, real root, stdlib only) ----------------------

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_NOATIME, MS_NODIRATIME, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 24, 28, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECURE_ALL = 0xff & ~(1 << 4)     # noroot, no_setuid_fixup, keep_caps(off), no_cap_ambient_raise; all locked
SYS_PIVOT_ROOT, SYS_CAPSET = 155, 126          # x86_64
# statvfs flags -> mount flags to keep on a read-only remount (locked flags may not be cleared in a userns)
KEEP_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
              (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> int:
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")
    return ret


def _mount(src, target, fstype, flags, data=None) -> None:
    _check(_libc.mount(src and src.encode(), str(target).encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {src} {target}")


def apply_mounts(mounts: List[list], root: str, become=None) -> None:
    """The tree, from a list of steps (targets relative to root, '' being root itself, {release} the
    kernel release): bind SRC DST | rbind SRC DST | ro DST (read-only remount of a bind) |
    tmpfs DST OPTS | proc DST | rofs DST (read-only remount of a tmpfs) | mkdir DST | touch DST |
    as-sandbox-root (call `become`: from here on files are created as the sandbox's root, which the
    filesystems mounted in its user namespace require; the host paths that identity may not search
    are reached through descriptors opened before, and through the working directory, the new root)."""
    release = os.uname().release
    sources = {}
    if become:
        for step in mounts:
            if step[0] in ("bind", "rbind"):
                sources[step[1]] = os.open(step[1], os.O_PATH | os.O_CLOEXEC)
    here = root
    for step in mounts:
        kind = step[0]
        if kind == "as-sandbox-root":
            if become:
                become()
            continue
        rel = step[2 if kind in ("bind", "rbind") else 1].replace("{release}", release)
        target = os.path.join(here, rel) if rel else here
        if kind in ("bind", "rbind"):
            src = f"/proc/self/fd/{sources[step[1]]}" if become else step[1]
            _mount(src, target, None, MS_BIND | (MS_REC if kind == "rbind" else 0))
            if become and not rel:       # the new root: work relative to it
                os.chdir(root)
                here = "."
        elif kind == "ro":
            flags = os.statvfs(target).f_flag
            keep = sum(ms for st, ms in KEEP_FLAGS if flags & st)
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
        elif kind == "rofs":
            _mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        elif kind == "tmpfs":
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, step[2] or None)
        elif kind == "proc":
            _mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "mkdir":
            os.makedirs(target, exist_ok=True)
        elif kind == "touch":
            open(target, "a").close()
        else:
            raise ValueError(f"unknown mount step {step!r}")


def _drop_everything(limits: dict, bounded_memory: bool, bounded_pids: bool) -> None:
    """As the namespace's root, drop every capability, for good, and take the rlimits."""
    _check(_libc.prctl(PR_SET_SECUREBITS, SECURE_ALL, 0, 0, 0), "securebits")
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 and ctypes.get_errno() == errno.EINVAL:
            break
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.syscall(SYS_CAPSET, header, data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    rl = [(resource.RLIMIT_CPU, limits["cpu_seconds"]), (resource.RLIMIT_FSIZE, limits["file_size"]),
          (resource.RLIMIT_NOFILE, limits["open_files"]), (resource.RLIMIT_CORE, 0)]
    if not bounded_pids:
        rl.append((resource.RLIMIT_NPROC, limits["pids"]))
    if not bounded_memory:
        rl.append((resource.RLIMIT_AS, limits["memory"]))
    for which, value in rl:
        resource.setrlimit(which, (value, value))


def _become_ns_root() -> None:
    """Act as the namespace's root (OUTSIDE_ID on the host), keeping its capabilities for now."""
    os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _enter(spec: dict) -> None:
    """PID 1 of the new namespaces: build the tree, pivot into it, drop everything, exec."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    root = spec["root"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    apply_mounts(spec["mounts"], root, become=_become_ns_root)     # leaves the new root as cwd
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the host's tree")
    os.chdir("/")
    _libc.sethostname(b"sandbox", 7)
    try:        # no nested user namespace: it would give back capabilities over new mounts
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
    except OSError:
        pass
    _become_ns_root()       # in case the steps did not say when
    _drop_everything(spec["limits"], spec["bounded_memory"], spec["bounded_pids"])
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)      # again: changing uid cleared it
    os.execve(spec["argv"][0], spec["argv"], spec["env"])


def _launch(spec: dict) -> dict:
    """Real root: join the cgroup, give the sandbox a private tmpfs scratch dir, create the namespaces
    in a child, map its root to OUTSIDE_ID, wait for it (up to the timeout), copy the scratch dir out."""
    for procs in spec["cgroup_procs"]:
        Path(procs).write_text(str(os.getpid()))
    _check(_libc.unshare(CLONE_NEWNS), "unshare mount namespace")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    scratch = spec["scratch"]
    size = spec["limits"]["scratch"]
    _mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={size},nr_inodes=4096,mode=0755,uid={OUTSIDE_ID},gid={OUTSIDE_ID}")
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(go_w)
        try:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                                 CLONE_NEWUTS | CLONE_NEWCGROUP), "unshare")
            os.write(ready_w, b"u")
            if os.read(go_r, 1) != b"g":
                os._exit(125)
            init = os.fork()
            if init == 0:
                try:
                    _enter(spec)
                except BaseException as e:      # anything before exec is a setup failure
                    print(f"sandbox setup: {e}", file=sys.stderr, flush=True)
                    os._exit(125)
            _, status = os.waitpid(init, 0)
            os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
        except BaseException as e:
            print(f"sandbox setup: {e}", file=sys.stderr, flush=True)
            os._exit(125)
    os.close(ready_w)       # so a child that dies early reads as end of file, not as a hang
    os.close(go_r)
    result = {"exit": "setup-failed"}
    try:
        if os.read(ready_r, 1) != b"u":
            raise OSError("the sandbox's namespaces were not created")
        for name, line in (("uid_map", f"0 {OUTSIDE_ID} 1"), ("gid_map", f"0 {OUTSIDE_ID} 1")):
            with open(f"/proc/{child}/{name}", "w") as f:
                f.write(line)
        os.write(go_w, b"g")
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        deadline = time.monotonic() + spec["timeout"]
        while True:
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid:
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
                result = {"exit": "setup-failed" if code == 125 else code}
                break
            if stopping or time.monotonic() > deadline:
                os.kill(child, signal.SIGKILL)      # its PID 1 dies with it (parent-death signal)
                os.waitpid(child, 0)
                _kill_members(spec["cgroup_procs"])
                result = {"exit": "stopped" if stopping else "timeout"}
                break
            time.sleep(0.05)
    finally:
        copy_regular_files(Path(scratch), Path(spec["out"]))
    return result


def _kill_members(procs_files: List[str]) -> None:
    """Everything else in the sandbox's cgroup, should anything have slipped the PID namespace's end."""
    for procs in procs_files:
        try:
            pids = [int(p) for p in Path(procs).read_text().split()]
        except OSError:
            continue
        for pid in pids:
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def main(argv: List[str]) -> int:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)     # the harness gone: stop, clean up
    spec = json.loads(Path(argv[1]).read_text())
    try:
        result = _launch(spec)
    except OSError as e:
        print(f"sandbox setup: {e}", file=sys.stderr, flush=True)
        result = {"exit": "setup-failed"}
    Path(spec["status"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
