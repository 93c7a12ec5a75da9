"""The report sandbox's launcher: `python sandbox_launch.py SPEC`, run by sandbox.run_untrusted as real
root. Stdlib only (it runs as a script). How the sandbox is built, and why: see sandbox.py."""

import ctypes
import errno
import json
import os
import resource
import shutil
import signal
import stat
import sys
import time
from pathlib import Path
from typing import List

OUTSIDE_ID = 65534        # nobody/nogroup: what the sandbox's root is on the host


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
