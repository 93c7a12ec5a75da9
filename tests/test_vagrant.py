"""Vagrant cells for real: libvirtd in a network namespace made here, a locally built box, `vagrant up`,
one case through the Vagrant backend, its result in the store in the same form as a qemu cell's.

The daemon runs in its own network namespace (its bridge, DHCP server and firewall rules stay there; the
guest reaches nothing but the host-side bridge) and its own mount namespace, where a private
configuration (qemu runs as root, no security driver, no virtlogd) and private state directories are
mounted over /etc/libvirt, /var/lib/libvirt, ... so the host's libvirt setup is neither used nor changed.
Vagrant runs in the same network namespace (HARNESS_VAGRANT_NETNS) and reaches the daemon through its
socket (LIBVIRT_DEFAULT_URI).

About 2-3.5 minutes here with the images cached (TCG): `vagrant up` up to 100 s, the case 30-55 s.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.matrix import MatrixError, load_matrix

ROOT = Path(__file__).resolve().parent.parent
CELL = "bcc-0.26@box-6.1"
MOUNTS = ("/etc/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt", "/run/libvirt")
LIBVIRTD_CONF = """unix_sock_dir = "{sock}"
auth_unix_rw = "none"
auth_unix_ro = "none"
"""
# root: the kernel, initrd and disks live under root's home; "file": no virtlogd to run.
QEMU_CONF = """user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
stdio_handler = "file"
"""
# The qemu driver resolves these users at start even when told to run qemu as root.
USERS = {"libvirt-qemu": 64055, "libvirt-dnsmasq": 64056}


def _run(*argv, check=True, timeout=60):
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


def _private_file(src: str, dest: Path, lines) -> Path:
    text = Path(src).read_text()
    dest.write_text(text + "".join(line + "\n" for line in lines if line.split(":")[0] + ":" not in text))
    return dest


def _start_script(base: Path, images: Path) -> str:
    lines = ["set -e"]
    for mount in MOUNTS:                   # e.g. base/var/lib/libvirt over /var/lib/libvirt
        (base / mount.lstrip("/")).mkdir(parents=True, exist_ok=True)
        lines.append(f"mount --bind {base / mount.lstrip('/')} {mount}")
    lines.append(f"mkdir -p /var/lib/libvirt/images && mount --bind {images} /var/lib/libvirt/images")
    for name in ("passwd", "group"):
        lines.append(f"mount --bind {base / name} /etc/{name}")
    lines.append(f"exec /usr/sbin/libvirtd --config {base / 'etc/libvirt/libvirtd.conf'} "
                 f"--pid-file {base / 'libvirtd.pid'}")
    return "\n".join(lines)


def _pids(path: Path):
    for pidfile in path.rglob("*.pid"):
        try:
            yield int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            time.sleep(0.1)
            os.kill(pid, 0)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def libvirt_netns(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root: a network namespace and libvirtd")
    missing = [p for p in ("vagrant", "libvirtd", "virsh", "dnsmasq", "qemu-img", "ip")
               if not shutil.which(p, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: `python -m harness setup --install` installs them")
    from harness.paths import cache_dir
    base = tmp_path_factory.mktemp("libvirt")
    sock = base / "sock"
    sock.mkdir()
    # Uploaded base volumes are kept: a box's volume name changes with its content.
    images = cache_dir() / "libvirt-images"
    images.mkdir(parents=True, exist_ok=True)
    boxes = [p.name for p in (cache_dir() / "vagrant.d/boxes").glob("*")]
    for volume in images.iterdir():     # volumes of boxes vagrant no longer has
        if not any(volume.name.startswith(box + "_") for box in boxes):
            volume.unlink()
    script = _start_script(base, images)
    (base / "etc/libvirt/libvirtd.conf").write_text(LIBVIRTD_CONF.format(sock=sock))
    (base / "etc/libvirt/qemu.conf").write_text(QEMU_CONF)
    _private_file("/etc/passwd", base / "passwd",
                  [f"{u}:x:{i}:{i}:{u}:/nonexistent:/usr/sbin/nologin" for u, i in USERS.items()])
    _private_file("/etc/group", base / "group", [f"{u}:x:{i}:" for u, i in USERS.items()])
    for mount in MOUNTS:          # mount points for the private directories (empty on the host)
        Path(mount).mkdir(parents=True, exist_ok=True)
    ns = f"harness-vagrant-{os.getpid()}"
    uri = f"qemu:///system?socket={sock}/libvirt-sock"
    daemon = None
    _run("ip", "netns", "add", ns)
    try:
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        daemon = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", script], stdin=subprocess.DEVNULL,
                                  stdout=open(base / "libvirtd.log", "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (sock / "libvirt-sock").exists():
            assert daemon.poll() is None, (base / "libvirtd.log").read_text()
            assert time.monotonic() < deadline, "libvirtd did not open its socket in 60 s"
            time.sleep(0.2)
        yield {"netns": ns, "uri": uri, "base": base}
    finally:
        _teardown(ns, uri, base, daemon)


def _teardown(ns: str, uri: str, base: Path, daemon) -> None:
    """Domains, daemon, its dnsmasq and qemu children (by their pid files), then the namespace."""
    if daemon is not None and daemon.poll() is None:
        names = _run("virsh", "-c", uri, "list", "--all", "--name", check=False).stdout.split()
        for name in names:
            _run("virsh", "-c", uri, "destroy", name, check=False)
            _run("virsh", "-c", uri, "undefine", name, "--nvram", check=False)
    run_dir = base / "run" / "libvirt"
    children = list(_pids(run_dir / "network")) + list(_pids(run_dir / "qemu"))
    if daemon is not None:     # `ip netns exec` execs sh, which execs libvirtd: the same process
        daemon.terminate()
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    for pid in children:
        _kill(pid)
    for pid in _run("ip", "netns", "pids", ns, check=False).stdout.split():
        _kill(int(pid))
    _run("ip", "netns", "del", ns, check=False)


@pytest.mark.vm
def test_a_case_runs_in_a_vagrant_box_and_lands_in_the_store(libvirt_netns, tmp_path, monkeypatch, recorded):
    from harness.backends import backend_for
    from harness.backends.vagrant import VagrantBackend
    from harness.cases import load_cases
    from harness.pipeline import run_cell
    from harness.store import RunDir, result_to_json
    from harness.classify import classify

    monkeypatch.setenv("HARNESS_VAGRANT_NETNS", libvirt_netns["netns"])
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", libvirt_netns["uri"])
    cell = load_matrix().cell(CELL)
    backend = backend_for("auto", cell)
    assert isinstance(backend, VagrantBackend)
    cases = list(load_cases([ROOT / "cases/seed/count_sched.c"], ROOT / "cases").cases)
    run = RunDir.create(["test_vagrant"], mode="vagrant", root=tmp_path / "runs")
    lines = []
    out = run_cell(cell, cases, backend, run.cell_dir(cell.name), lambda *a: lines.append(a), use_cache=False)
    run.record_observations(out.cell, list(out.observations))
    run.record_results(list(out.results))
    workdir = run.cell_dir(cell.name)
    assert out.problem == "", f"{out.problem}\n{(workdir / 'vagrant.log').read_text()[-3000:]}"
    assert out.boot_seconds and any("vagrant up" in a[3] for a in lines)

    (row,) = [json.loads(ln) for ln in (run.path / "results.jsonl").read_text().splitlines()]
    assert (row["case_id"], row["cell"], row["outcome"]) == ("seed/count_sched", CELL, "PASS"), row
    assert row["versions"]["bcc"] == "0.26.0" and row["versions"]["kernel"].startswith("6.1.")
    # The same form as a qemu cell's row: the recorded qemu run of this case, classified the same way.
    case, obs, versions = recorded("cases/seed/count_sched.c")
    qemu_row = json.loads(json.dumps(result_to_json(classify(case, obs, versions))))
    assert row.keys() == qemu_row.keys()
    for key in ("outcome", "actual_sites", "missing", "extra", "probe_reads", "message"):
        assert row[key] == qemu_row[key], key
    assert (workdir / "observations" / "seed__count_sched.json").exists()
    assert "runner-exit 0" in (workdir / "runner.log").read_text()
    assert "harness-box login" in (workdir / "console.log").read_text()
    # vagrant destroy ran: no domain is left in the daemon
    left = _run("virsh", "-c", libvirt_netns["uri"], "list", "--all", "--name").stdout.split()
    assert left == []


@pytest.mark.vm
def test_a_box_that_does_not_come_up_is_harness_trouble(libvirt_netns, tmp_path, monkeypatch):
    """vagrant up killed by its deadline: the case is HARNESS (boot-failed), and the domain is destroyed."""
    from harness.backends import vagrant as vagrant_backend
    from harness.cases import load_cases
    from harness.pipeline import run_cell

    monkeypatch.setenv("HARNESS_VAGRANT_NETNS", libvirt_netns["netns"])
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", libvirt_netns["uri"])
    monkeypatch.setattr(vagrant_backend, "BOOT_TIMEOUT", 20)
    cases = list(load_cases([ROOT / "cases/seed/count_sched.c"], ROOT / "cases").cases)
    out = run_cell(load_matrix().cell(CELL), cases, vagrant_backend.VagrantBackend(), tmp_path / "cell",
                   use_cache=False)
    (result,) = out.results
    assert result.outcome.label == "HARNESS", result
    assert out.problem.startswith("boot-failed: vagrant up did not finish in 20s"), out.problem
    left = _run("virsh", "-c", libvirt_netns["uri"], "list", "--all", "--name").stdout.split()
    assert left == []


def test_vagrant_cells_are_named_not_in_all(tmp_path):
    m = load_matrix()
    assert m.cell(CELL).backend == "vagrant" and m.cell("bcc-0.26@linux-6.1").backend == "qemu"
    assert all(c.backend == "qemu" for c in m.select(["all"]))
    bad = tmp_path / "matrix.toml"
    text = (ROOT / "vms/matrix.toml").read_text()
    bad.write_text(text.replace('backend = "vagrant"', 'backend = "virtualbox"'))
    with pytest.raises(MatrixError, match=rf"{bad}: kernels.box-6.1: backend 'virtualbox' is none of qemu"):
        load_matrix(bad)
    bad.write_text(text.replace('cells = ["bcc-0.26@linux-6.1"]', f'cells = ["{CELL}"]'))
    with pytest.raises(MatrixError, match=rf"{bad}: defaults: {CELL} is a vagrant cell"):
        load_matrix(bad)


def test_collected_output_is_read_between_its_marks(tmp_path):
    from harness.backends.vagrant import MARK, unpack_collected
    import base64
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"seed__count_sched:ok:1.0\n"
        info = tarfile.TarInfo("out/status")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    text = f"a warning\n{MARK}\n{base64.b64encode(buf.getvalue()).decode()}\n{MARK}\nConnection closed.\n"
    assert unpack_collected(text, tmp_path)
    assert (tmp_path / "out/status").read_text() == "seed__count_sched:ok:1.0\n"
    assert not unpack_collected("no marks at all", tmp_path / "x")
