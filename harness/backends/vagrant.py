"""The Vagrant backend: a cell's kernel booted as a Vagrant box (vagrant-libvirt), driven with python-vagrant.

`vagrant up` of the cell's box (images/box.py builds and caches it), the guest program uploaded and run
over `vagrant ssh` (guest mode: bcc compiles and loads inside the box), its output directory brought back
as a tar, `vagrant destroy`. The results are the runner's files, exactly as the qemu backend unpacks
them, so observation.py, the store and the reports cannot tell the backends apart.

python-vagrant has no timeouts, and its ssh() raises on a non-zero exit without the command's output:
every vagrant command runs under coreutils `timeout` (which kills the whole process group, ssh
included), and the runner's verdict comes back as files (OUT/status, per-case result.json), never as an
exit code. Harness trouble is a GuestRun status (boot-failed, timeout, error), never a class.

Environment: HARNESS_VAGRANT_NETNS runs every vagrant command inside that network namespace (where
libvirtd and its networks live, as in tests/test_vagrant.py); LIBVIRT_DEFAULT_URI picks the libvirt
daemon; the boxes are added to a VAGRANT_HOME under the harness cache.
"""

import base64
import contextlib
import fcntl
import io
import os
import re
import subprocess
import tarfile
import threading
import time
from pathlib import Path
from typing import Callable, List

import vagrant

from ..images.box import BOX_FILE, box_image
from ..images.store import Image
from ..interrupt import stop_requested
from .. import safe_tar
from ..paths import cache_dir
from ..progress import Progress
from .base import GuestJob, GuestRun, RunStatus, OneJobAtATime, tar_directory, write_input, write_program_input
from .qemu_argv import probe_accel

BOOT_TIMEOUT = 900        # vagrant up: the first upload of the box into libvirt's pool, and a TCG boot
CALL_TIMEOUT = 180        # any other vagrant call that does not run cases
GUEST_DIR = "/tmp/harness"
MARK = "HARNESS-TAR"      # frames the base64 tar in `vagrant ssh` output (vagrant may print around it)

VAGRANTFILE = """# Written by the harness for one cell run (harness/backends/vagrant.py); the box's own Vagrantfile
# says how it boots.
Vagrant.configure("2") do |config|
  config.vm.box = "{box}"
  config.vm.box_check_update = false
  config.vm.provider :libvirt do |libvirt|
    libvirt.driver = "{driver}"
    libvirt.default_prefix = "{prefix}"
    libvirt.memory = {memory}
    libvirt.cpus = {cpus}
    # isolated: libvirt's DHCP gives vagrant an address to ssh to, and the guest no route anywhere
    libvirt.management_network_mode = "none"
    libvirt.graphics_type = "none"
    libvirt.video_type = "none"
    libvirt.serial :type => "file", :source => {{:path => "{console}"}}
  end
end
"""

RUN = (f"rm -rf {GUEST_DIR} && mkdir -p {GUEST_DIR}/in {GUEST_DIR}/out && "
       f"tar -x -f {GUEST_DIR}.tar -C {GUEST_DIR}/in && "
       f"env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 "
       f"python3 {GUEST_DIR}/in/guest/runner.py {GUEST_DIR}/in {GUEST_DIR}/out > {GUEST_DIR}/runner.log 2>&1; "
       f"echo \"runner-exit $?\" >> {GUEST_DIR}/runner.log")
COLLECT = f"echo {MARK}; tar -C {GUEST_DIR} -c out runner.log | base64 -w0; echo; echo {MARK}"


class VagrantTimeout(RuntimeError):
    pass


class TimedVagrant(vagrant.Vagrant):
    """python-vagrant with a deadline on every vagrant command, optionally inside a network namespace."""

    def __init__(self, root: Path, env: dict, log: Path, netns: str = ""):
        super().__init__(str(root), env=env, out_cm=vagrant.make_file_cm(str(log)),
                         err_cm=vagrant.make_file_cm(str(log)))
        self.prefix = ["ip", "netns", "exec", netns] if netns else []
        self.seconds = CALL_TIMEOUT

    def _make_vagrant_command(self, args):
        return (["timeout", "--kill-after=20", str(self.seconds)] + self.prefix + ["vagrant"]
                + [a for a in args if a is not None])

    def within(self, seconds: int, call: Callable, *args, **kw):
        """call(*args) with its vagrant command killed after `seconds`; VagrantTimeout then."""
        self.seconds = seconds
        try:
            return call(*args, **kw)
        except subprocess.CalledProcessError as e:
            if e.returncode in (124, 137):        # timeout's own exit codes: TERM sent, KILL sent
                raise VagrantTimeout(f"vagrant {e.cmd[len(self.prefix) + 4]} did not finish in {seconds}s")
            raise

    def upload(self, source: Path, dest: str) -> None:
        self._call_vagrant_command(["upload", str(source), dest])


def vagrant_env() -> dict:
    return dict(os.environ, VAGRANT_HOME=str(cache_dir() / "vagrant.d"), VAGRANT_DEFAULT_PROVIDER="libvirt",
                # no calls home: no version check, no box update check
                VAGRANT_CHECKPOINT_DISABLE="1", VAGRANT_BOX_UPDATE_CHECK_DISABLE="1", VAGRANT_NO_COLOR="1")


def box_name(box: Image) -> str:
    return f"bcc-harness/{box.path.name}"


def ensure_box_added(v: TimedVagrant, box: Image) -> str:
    """Add the box to VAGRANT_HOME once (locked: concurrent cells share it); older builds of the same
    cell's box are removed then, so VAGRANT_HOME holds one box per cell."""
    name = box_name(box)
    home = Path(v.env["VAGRANT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".harness-box.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        added = {b.name for b in v.within(CALL_TIMEOUT, v.box_list)}
        if name not in added:
            v.within(CALL_TIMEOUT, v.box_add, name, str(box.file(BOX_FILE)))
            older = re.escape(name.rsplit("-", 1)[0]) + r"-[0-9a-f]{12}"
            for old in sorted(n for n in added if re.fullmatch(older, n)):
                with contextlib.suppress(Exception):   # in use by a running box: left for next time
                    v.within(CALL_TIMEOUT, v.box_remove, old, "libvirt")
    return name


def unpack_collected(text: str, dest: Path) -> bool:
    """The framed base64 tar from COLLECT -> dest/out and dest/runner.log; False when there is none."""
    m = re.search(rf"{MARK}\s*\n([A-Za-z0-9+/=\s]*?)\n{MARK}", text)
    if not m or not m.group(1).strip():
        return False
    try:
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(m.group(1))), mode="r:") as tar:
            safe_tar.extractall(tar, dest)
    except (tarfile.TarError, ValueError, OSError):
        return False
    return True


class VagrantBackend(OneJobAtATime):
    name = "vagrant"

    def __init__(self, memory_mb: int = 3072, cpus: int = 2, netns: str = None):
        self.memory_mb, self.cpus = memory_mb, cpus
        self.netns = os.environ.get("HARNESS_VAGRANT_NETNS", "") if netns is None else netns

    def vagrantfile(self, box: str, prefix: str, console: Path) -> str:
        driver = "kvm" if probe_accel().accel == "kvm" else "qemu"      # "qemu": TCG, no KVM needed
        return VAGRANTFILE.format(box=box, driver=driver, prefix=prefix, memory=self.memory_mb,
                                  cpus=self.cpus, console=console)

    def run(self, job: GuestJob, progress: Progress) -> GuestRun:
        """Guest mode in a Vagrant box: bcc compiles and loads every case inside it."""
        inp = write_input(job, mode="run")   # no output device: the results are fetched over ssh
        return self.boot(job.rewriter, job.kernel, inp, job.workdir, len(job.cases), job.case_timeout,
                         f"cell {job.cell_name}", progress)

    def run_programs(self, mode, entries, files, rewriter, kernel, workdir, task, progress) -> GuestRun:
        """The runtime modes (oracle, EXPECT-MAP checks), compiled and attached inside the box."""
        inp = write_program_input(workdir / "in", mode, entries, files, output_device="")
        return self.boot(rewriter, kernel, inp, workdir, len(entries), 900, task, progress)

    def boot(self, rewriter: Image, kernel: Image, inp: Path, workdir: Path, count: int, case_timeout: int,
             task: str, progress: Progress) -> GuestRun:
        """up, upload `inp`, run the guest program on it, collect workdir/out, destroy."""
        workdir.mkdir(parents=True, exist_ok=True)
        tar_directory(inp, workdir / "in.tar")
        vdir = workdir / "vagrant"
        vdir.mkdir(exist_ok=True)
        console, log = workdir / "console.log", workdir / "vagrant.log"
        console.unlink(missing_ok=True)
        v = TimedVagrant(vdir, vagrant_env(), log, self.netns)
        t0 = time.monotonic()
        boot_seconds, status, detail, phase = None, RunStatus.OK, "", "box"
        got_output = False
        try:
            progress(task, 0, count, "Vagrant box")
            box = box_image(rewriter, kernel, progress)
            name = ensure_box_added(v, box)
            prefix = "harness-" + re.sub(r"[^A-Za-z0-9]+", "-", task) + f"-{os.getpid()}"
            (vdir / "Vagrantfile").write_text(self.vagrantfile(name, prefix, console))
            phase = "up"
            progress(task, 0, count, "vagrant up")
            _interruptible(lambda: v.within(BOOT_TIMEOUT, v.up, provider="libvirt"))
            boot_seconds = time.monotonic() - t0
            phase = "run"
            progress(task, 0, count, "booted")
            v.within(CALL_TIMEOUT, v.upload, workdir / "in.tar", f"{GUEST_DIR}.tar")
            progress(task, 0, count, f"running {count} case(s) in the box")
            deadline = 60 + count * (case_timeout + 30)
            _interruptible(lambda: v.within(deadline, v.ssh, command=f"sudo sh -c '{RUN}'"))
            phase = "collect"
            got_output = unpack_collected(v.within(CALL_TIMEOUT, v.ssh, command=f"sudo sh -c '{COLLECT}'"),
                                          workdir)
            progress(task, _read(workdir / "out" / "status").count("\n"), count, "collected")
        except KeyboardInterrupt:
            status, detail = RunStatus.INTERRUPTED, "stopped by Ctrl-C; the box is destroyed"
        except VagrantTimeout as e:
            status, detail = (RunStatus.BOOT_FAILED if phase == "up" else RunStatus.TIMEOUT), str(e)
        except Exception as e:   # vagrant failed (CalledProcessError) or the box could not be built
            status = RunStatus.BOOT_FAILED if phase in ("box", "up") else RunStatus.ERROR
            detail = f"{phase}: {type(e).__name__}: {e}; see {log}\n{_tail(log)}"
        finally:
            destroyed = _destroy(v)
        if status == RunStatus.OK and not got_output:
            status, detail = RunStatus.NO_OUTPUT, f"the box gave back no results; see {log}"
        if destroyed:
            detail = (detail + f"; {destroyed}").lstrip("; ")
        return GuestRun(outdir=workdir / "out", console=console if console.exists() else None,
                        status=status, detail=detail, seconds=time.monotonic() - t0,
                        boot_seconds=boot_seconds, command=f"vagrant up (in {vdir})")


def _destroy(v: TimedVagrant) -> str:
    """vagrant destroy -f; '' when it went, else what went wrong (the run's results stay valid)."""
    try:
        v.within(CALL_TIMEOUT, v.destroy)
        return ""
    except Exception as e:
        return f"vagrant destroy failed: {e}"


def _interruptible(call: Callable) -> None:
    """Run a long vagrant call in a thread so Ctrl-C (stop_requested) is noticed while it runs."""
    outcome: List[BaseException] = []

    def target():
        try:
            call()
        except BaseException as e:
            outcome.append(e)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.5)
        if stop_requested():
            raise KeyboardInterrupt
    if outcome:
        raise outcome[0]


def _read(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")
    return ""


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(_read(path).splitlines()[-lines:])
