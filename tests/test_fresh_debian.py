"""The README's install line and main command, verbatim, as root on a fresh Debian 12 with its own python3.

The root is Debian 12's "standard" system (what the installer gives with "standard system utilities",
python3 3.11 included), made once with mmdebstrap from the host's Debian mirror and cached with the
other images. Each run works on an overlay of it in a private mount namespace, so it starts fresh every
time; only apt's and pip's download caches are kept between runs. Network: Debian's archive and PyPI,
reached the way the host reaches them (its apt mirror, its resolv.conf, its pip configuration and the
certificates that names). No kernel boots: `--dry-run` stops after the harness has started.
"""

import configparser
import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cases import load_cases
from harness.images.build import run_tool
from harness.images.debian import PrivateApt
from harness.images.store import Recipe, ensure
from harness.matrix import load_matrix
from harness.paths import cache_dir

ROOT = Path(__file__).resolve().parent.parent
SUITE = "bookworm"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def readme_commands(text: str) -> dict:
    """The shell block under README's '## Two commands': {'install', 'kernels', 'tests'} lines, comments cut."""
    section = text.split("\n## Two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines() if line.strip()]
    assert len(lines) == 3, f"README's command block should be install, main job, tests: {lines}"
    install, kernels, tests = lines
    assert kernels == "tox -e kernels" and tests == "tox", lines
    return {"install": install, "kernels": kernels, "tests": tests}


def test_readme_names_its_three_commands_and_ci_runs_the_test_one():
    commands = readme_commands((ROOT / "README.md").read_text())
    assert "tox" in commands["install"]
    ci = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert ci[-1] == commands["tests"], ".ci/run must end with the README's test command"


def test_an_old_python_is_told_which_one_the_harness_needs():
    from harness.__main__ import require_python
    with pytest.raises(SystemExit) as stop:
        require_python((3, 10, 12))
    assert "needs Python 3.11 or newer (it reads vms/matrix.toml with tomllib); this is Python 3.10" in str(stop.value)
    require_python((3, 11, 2))      # Debian 12's passes
    old = next((python for python in map(shutil.which, ("python3.10", "python3.9", "python3.8"))
                if python and subprocess.run([python, "-c", ""], capture_output=True).returncode == 0), None)
    if old:   # the real interpreter too, where one is installed: it must stop before any import fails
        proc = subprocess.run([old, "-m", "harness", "run", "--dry-run"], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 1 and "needs Python 3.11 or newer" in proc.stderr, proc.stderr


def fresh_root() -> Path:
    apt = PrivateApt(SUITE)
    recipe = Recipe("fresh", "debian-12", {"suite": SUITE, "variant": "standard", "mirror": apt.mirror,
                                           "recipe": 1})

    def build(scratch: Path) -> dict:
        run_tool(["mmdebstrap", "--variant=standard", SUITE, str(scratch / "root"), apt.source_line()],
                 f"mmdebstrap of a fresh {SUITE}")
        return {"suite": SUITE, "mirror": apt.mirror}

    return ensure(recipe, build).file("root")


def pip_files() -> list:
    """The host's global pip configuration and the certificate files it (or PIP_CERT) names."""
    files = [Path("/etc/pip.conf")] if Path("/etc/pip.conf").exists() else []
    certs = [os.environ.get("PIP_CERT", "")]
    for conf in files:
        parser = configparser.ConfigParser()
        parser.read(conf)
        certs += [parser.get(section, "cert", fallback="") for section in parser.sections()]
    return files + [Path(c) for c in certs if c and Path(c).is_file()]


SCRIPT = r"""
set -eu
M="$WORK/merged"
mkdir -p "$WORK/upper" "$WORK/work" "$M"
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$WORK/upper,workdir=$WORK/work" "$M"
mount -t proc proc "$M/proc"
mount -t sysfs sysfs "$M/sys"
mount --rbind /dev "$M/dev"
mkdir -p "$APT_CACHE" "$PIP_CACHE" "$M/root/.cache/pip"
mount --bind "$APT_CACHE" "$M/var/cache/apt/archives"
mount --bind "$PIP_CACHE" "$M/root/.cache/pip"
cp --remove-destination -L /etc/resolv.conf "$M/etc/resolv.conf"
for f in $HOST_FILES; do mkdir -p "$M$(dirname "$f")"; cp --remove-destination -L "$f" "$M$f"; done
mkdir "$M/src"
tar -C "$PROJECT" --exclude=.git --exclude=.tox --exclude=__pycache__ -cf - . | tar -C "$M/src" -xf -
in_root() { chroot "$M" env -i HOME=/root PATH="$ROOT_PATH" $PIP_ENV sh -c "$1"; }
echo "== python3"; in_root 'python3 --version'
echo "== install"; in_root "$INSTALL"
echo "== kernels"; in_root "cd /src && $KERNELS"
printf '%s\n' "$UNPACK" > "$M/src/unpack_check.py"
echo "== unpack"; in_root "cd /src && .tox/kernels/bin/python unpack_check.py"
"""

# The host side of a loading boot, under the root's own Python (3.11.2 has no tarfile filters: the
# harness once passed filter= there and lost every loading boot's results).
UNPACK = """
import io, pathlib, tarfile, tempfile
from harness.backends.base import untar_results
d = pathlib.Path(tempfile.mkdtemp())
with tarfile.open(d / "out.tar", "w") as tar:
    for name, data in (("status", b"c:exit-0:0.1\\n"), ("c/result.json", b"{}")):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
assert untar_results(d / "out.tar", d / "out")
print("unpacked:", sorted(str(p.relative_to(d / "out")) for p in (d / "out").rglob("*") if p.is_file()))
"""


@pytest.mark.slow
def test_readme_commands_verbatim_on_fresh_debian_12(tmp_path):
    if os.geteuid() != 0 or not shutil.which("mmdebstrap") or not shutil.which("unshare"):
        pytest.skip("needs root, mmdebstrap and unshare (CI runs as root; `python -m harness setup --install`)")
    commands = readme_commands((ROOT / "README.md").read_text())
    lower = fresh_root()
    downloads = cache_dir() / "fresh-debian-downloads"
    pip_env = " ".join(f"{k}={os.environ[k]}" for k in ("PIP_CERT", "PIP_INDEX_URL") if os.environ.get(k))
    env = dict(os.environ, WORK=str(tmp_path), LOWER=str(lower), PROJECT=str(ROOT), ROOT_PATH=PATH,
               APT_CACHE=str(downloads / "apt"), PIP_CACHE=str(downloads / "pip"),
               HOST_FILES=" ".join(str(p) for p in pip_files()), PIP_ENV=pip_env,
               INSTALL=commands["install"], KERNELS=commands["kernels"] + " -- --cell all --dry-run",
               UNPACK=UNPACK)
    downloads.mkdir(parents=True, exist_ok=True)
    try:
        # apt in the root locks the shared download cache and gives up at once if another run holds it:
        # two runs of this test on one machine (two clones' tox) take turns
        with open(downloads / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", SCRIPT],
                                  env=env, capture_output=True, text=True, timeout=1200)
        upper = tmp_path / "upper"
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-6000:]
        assert re.search(r"== python3\nPython 3\.11\.", out), out[:2000]
        # tox made the environment with the root's own Python 3.11 and installed the harness's deps in it.
        assert (upper / "src/.tox/kernels/bin/python").exists(), out[-3000:]
        assert (upper / "src/.tox/kernels/lib/python3.11/site-packages/rich").is_dir(), out[-3000:]
        # The harness started, read the matrix and every case, and stopped before building anything.
        cases = load_cases([ROOT / "cases"], ROOT / "cases").cases
        cells = load_matrix().select(["all"])
        assert f"dry run: {len(cases)} cases x {len(cells)} cells" in out, out[-3000:]
        for cell in cells:
            assert f"cell {cell.name}" in out
        assert "case seed/count_sched" in out
        assert not (upper / "root/.cache/bcc-harness").exists(), "a dry run must not build images"
        assert "unpacked: ['c/result.json', 'status']" in out, out[-3000:]
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
