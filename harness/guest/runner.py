"""The harness's program inside a guest: compile and load each case with bcc, record raw facts.

Stdlib only, Python 3.9 to 3.13 (it runs with the rewriter root's own python3).

    runner.py IN OUT            every case of IN/job.json, in child processes, by the job's mode:
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
    runner.py --one MODE CASE OUT   one case in this process (by hand, when debugging a case)

Every case runs in its own process (forked from this one) so a crash or hang of bcc loses only that case;
in mode load, cases share a child per CPU until one of them kills it (lanes.py). Results are files:
OUT/<case>/result.json (written by the child), OUT/<case>/compile.log (fd 2 during BPF(), which
holds bcc's rewritten text and clang's diagnostics), OUT/<case>/load-<function>.log (fd 2 during each
load, which holds the verifier log), and OUT/status with one "case:code" line per finished case
(a missing line means the guest died first).
"""

import atexit
import importlib
import json
import os
import select
import signal
import sys
import tarfile
import time

# The mode modules sit beside this file and import each other by bare name, in the guest and on the host.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from guestlib import exit_code_of, say, verdict_of  # noqa: E402
from lanes import run_lanes  # noqa: E402


class OutputDisk:
    """The output disk, a tar archive the host unpacks. Each finished case is appended and the archive's
    end written after it, so a guest killed later keeps every case before, and the cost of each case is
    its own files (rewriting the whole archive per case made a long run quadratic)."""

    def __init__(self, device):
        self.dev = open(device, "r+b") if device and os.path.exists(device) else None
        self.tar = tarfile.open(fileobj=self.dev, mode="w") if self.dev else None

    def add(self, path, arcname):
        if self.tar and os.path.exists(path):
            self.tar.add(path, arcname=arcname)

    def commit(self):
        """End the archive after what was added (the next add writes over this end), and sync it."""
        if not self.tar:
            return
        self.dev.write(b"\0" * (2 * tarfile.BLOCKSIZE))
        self.dev.seek(self.tar.offset)
        self.dev.flush()
        os.fsync(self.dev.fileno())

    def close(self, out):
        """The files beside the case directories (status, guest.json, ...), then the archive's real end."""
        if not self.tar:
            return
        for name in sorted(os.listdir(out)):
            if not os.path.isdir(os.path.join(out, name)):
                self.add(os.path.join(out, name), name)
        self.tar.close()
        self.dev.flush()
        os.fsync(self.dev.fileno())
        self.dev.close()


def pack(out, device):
    """Write all of OUT onto the output disk at once (a one-shot mode such as capture)."""
    disk = OutputDisk(device)
    for name in sorted(os.listdir(out)):
        disk.add(os.path.join(out, name), name)
    disk.close(out)


def run_all(inp, out):
    with open(os.path.join(inp, "job.json")) as f:
        job = json.load(f)
    mode = job.get("mode", "run")
    if mode == "extract":
        from mode_extract import extract_all
        extract_all(inp, out, job)
        return
    if mode == "capture":
        from mode_capture import capture
        capture(out)
        pack(out, job.get("output_device"))
        return
    timeout = job.get("case_timeout", 900)
    cases = job["cases"]
    if mode in MODE_MODULES:    # stdlib only: imported once here, every forked child starts with them
        importlib.import_module(MODE_MODULES[mode])
    if mode in ("run", "compile") or (mode in ("oracle", "runtime") and needs_bcc(cases)):
        preload_bcc()
    if mode in ("oracle", "runtime") and "bcc" in sys.modules:
        sys.modules["programs"].resolve_ahead(cases)
    if mode == "runtime" and any(sys.modules["mode_runtime"].uses_network(case) for case in cases):
        preload_pyroute2()
    # a shard of a host compile (backends/compile_shards.py) also holds the other shards' cases: once its
    # own are done it takes theirs from their ends, and a case is compiled by whichever shard claims it
    spare = [c for part in job.get("spare", []) for c in part]
    sharing = None
    order = list
    if mode == "compile" and job.get("share_headers"):
        from shared_headers import Sharing
        sharing = Sharing(inp, job["share_headers"], cases + spare, fork_child, wait_child)
        order = sharing.order
    cases = order(cases) + [c for part in job.get("spare", []) for c in reversed(order(part))]
    claims = job.get("claims")
    results = Results(out, job.get("output_device"))
    if mode == "load":
        load_all(cases, inp, out, timeout, results, job.get("lanes") or os.cpu_count() or 1)
        results.close()
        return
    for n, case in enumerate(cases, 1):
        if claims and not claim(claims, case["id"]):
            if sharing:
                sharing.skip(case)
            continue
        if sharing:
            case = sharing.before(case)
        case_out = os.path.join(out, case["id"])
        os.makedirs(case_out, exist_ok=True)
        arg = os.path.join(inp, "%s-%d.json" % (mode, n) if mode in ("oracle", "runtime") else "case-%d.json" % n)
        with open(arg, "w") as f:
            json.dump(case, f)
        say("start", n, len(cases), case["id"])
        t0 = time.monotonic()
        verdict = wait_child(fork_child(mode, arg, case_out), timeout)
        seconds = time.monotonic() - t0
        if sharing:
            sharing.after(case, case_out, arg, timeout)
        results.record(n, len(cases), case["id"], verdict, seconds)
    results.close()


def load_all(cases, inp, out, timeout, results, width):
    """Mode load: each case's bundle, in `width` lanes of children (lanes.py)."""
    jobs = [(case["id"], os.path.join(inp, "bundles", case["id"], "bundle.json"), os.path.join(out, case["id"]))
            for case in cases]
    for _, _, case_out in jobs:
        os.makedirs(case_out, exist_ok=True)
    finished = []

    def done(k, verdict, seconds):
        finished.append(k)
        results.record(len(finished), len(jobs), jobs[k][0], verdict, seconds)
    run_lanes(jobs, lambda arg, case_out: run_child("load", arg, case_out), timeout, done, width,
              lockstep=width == 1)     # after a kernel crash (backends/qemu.py): each case recorded before the next


class Results:
    """OUT/status, one "case:verdict:seconds" line per finished case, and the output disk, both brought up
    to date as each case finishes."""

    def __init__(self, out, device):
        self.out = out
        self.status = open(os.path.join(out, "status"), "a")
        self.disk = OutputDisk(device)

    def record(self, n, total, case_id, verdict, seconds):
        self.status.write("%s:%s:%.3f\n" % (case_id, verdict, seconds))
        self.status.flush()
        if self.disk.tar:   # a guest may die any moment; on the host the status is read from the page cache
            os.fsync(self.status.fileno())
        self.disk.add(os.path.join(self.out, case_id), case_id)
        self.disk.add(os.path.join(self.out, "status"), "status")
        self.disk.commit()
        say("done", n, total, case_id, verdict, "%.1fs" % seconds)

    def close(self):
        self.status.close()
        self.disk.close(self.out)


def claim(claims, case_id):
    """True for the one shard that claims the case first (the claims dir is shared by a job's shards)."""
    try:
        os.close(os.open(os.path.join(claims, case_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return True
    except FileExistsError:
        return False


# A mode's own module (and so what it imports): the guest has no bytecode cache for our code
# (PYTHONDONTWRITEBYTECODE, a read-only input disk), and a child that imports it compiles it from source,
# which under TCG costs as much as a small case does.
MODE_MODULES = {"load": "mode_load", "oracle": "mode_oracle", "runtime": "mode_runtime"}


def needs_bcc(cases):
    """The runtime modes import bcc in a child when bcc compiles there (guest mode: no bundles) or to
    resolve a kprobe regex (re:) as the cell's bcc does. Under TCG that import costs seconds per child,
    so then the runner imports it once for all of them."""
    return any(not case.get("bundles") or any(target.startswith("re:") for _, _, target in case.get("attach", []))
               for case in cases)


def preload_bcc():
    """Import bcc (and so load libbcc) once here, so that every forked child starts with it: a child's
    own import cost about 40 ms per case on the host, 120 core-seconds over the matrix. Importing only
    loads the library and defines Python classes; each BPF() is still the child's own. The import is
    tried in a child first, so a libbcc that crashes on load costs that child, not the runner; any
    failure is left for each case's own import to report, as before."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            importlib.import_module("bcc")
            code = 0
        finally:
            os._exit(code)
    if os.waitpid(pid, 0)[1] == 0:
        importlib.import_module("bcc")


def preload_pyroute2():
    """pyroute2 is many modules of pure Python, seconds to import per child under TCG: once here. A failed
    import is left for the case's own, which reports it."""
    try:
        for name in ("pyroute2", "pyroute2.netlink.rtnl.ifinfmsg"):
            importlib.import_module(name)
    except ImportError:
        pass


def fork_child(mode, arg, out):
    """One case in a forked child, in its own session: a crash or hang still loses only that case, and
    the child starts warm (a fresh python3 costs seconds per case in a TCG guest)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        atexit._clear()             # the runner's own exit handlers are not the child's
        code = exit_code_of(run_child, mode, arg, out)
    finally:
        atexit._run_exitfuncs()     # what a normal exit runs (bcc detaches its probes there)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def wait_child(pid, timeout):
    """The child's verdict: exit-N, signal-N, or timeout-N (then its whole session is killed). The wait
    wakes the moment the child exits (a pidfd): polling left a core idle for up to a poll's pause after
    every case, about 25 ms on average, which over a matrix's thousands of cases is minutes."""
    deadline = time.monotonic() + timeout
    pidfd = _pidfd(pid)
    pause = 0.002
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return verdict_of(status)
            left = deadline - time.monotonic()
            if left <= 0:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "timeout-%d" % timeout
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.05)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _pidfd(pid):
    """A pidfd for the child (Linux 5.3+, Python 3.9+), or None: then the wait polls."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def run_child(mode, arg, out):
    """One case in this (child) process, by the job's mode; each mode lives in its own module."""
    if mode == "load":
        from mode_load import load_one
        load_one(arg, out)
    elif mode == "oracle":
        from mode_oracle import run_oracle
        run_oracle(arg, out)
    elif mode == "runtime":
        from mode_runtime import run_runtime
        run_runtime(arg, out)
    else:
        from mode_compile import run_one
        run_one(arg, out, mode)


def main(argv):
    if argv[1:2] == ["--one"]:
        run_child(argv[2], argv[3], argv[4])
    else:
        with open(os.path.join(argv[2], "guest.json"), "w") as f:
            json.dump({"python": sys.version.split()[0], "uname": os.uname().release}, f)
        run_all(argv[1], argv[2])
        write_cpu(argv[2])


def write_cpu(out):
    """The CPU time of this runner and everything it waited for (its cases' children, clang's PCH
    builds): what one host sandbox cost, for the benchmark's split (bench/bench_matrix.py)."""
    import resource
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.path.join(out, "cpu.json"), "w") as f:
        json.dump({"runner": me.ru_utime + me.ru_stime, "children": children.ru_utime + children.ru_stime}, f)


if __name__ == "__main__":
    main(sys.argv)
