"""`python -m harness setup` is the first thing run on a fresh machine, before pip installed rich and
libclang; it must work there. And an old Python gets a sentence, not a traceback."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shadowed(tmp_path: Path, *modules: str) -> dict:
    """An environment where importing each module fails as on a machine without it: a package of that
    name earlier on sys.path whose import raises ModuleNotFoundError."""
    for name in modules:
        pkg = tmp_path / "shadow" / name
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(f'raise ModuleNotFoundError("No module named {name!r}", name={name!r})\n')
    return {"PYTHONPATH": str(tmp_path / "shadow"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def harness(env, *args, python=sys.executable):
    return subprocess.run([python, "-m", "harness", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_shadow_really_hides_rich(tmp_path):
    env = shadowed(tmp_path, "rich", "clang")
    done = subprocess.run([sys.executable, "-c", "import rich"], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "No module named 'rich'" in done.stderr


def test_setup_reports_host_programs_without_rich_or_libclang(tmp_path):
    done = harness(shadowed(tmp_path, "rich", "clang"), "setup")
    assert "Traceback" not in done.stderr, done.stderr
    # ready (exit 0) or the apt-get line to run (exit 2): either way the report on the host programs
    assert (done.returncode, done.stdout.startswith("host ready: qemu-system-x86_64, mmdebstrap")) in \
        ((0, True), (2, False))
    if done.returncode == 2:
        assert "missing:" in done.stdout and "apt-get install" in done.stdout


def test_other_commands_without_rich_name_the_missing_module(tmp_path):
    done = harness(shadowed(tmp_path, "rich"), "lint")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "the Python module 'rich' is missing" in done.stderr


def test_old_python_is_told_which_version_it_needs():
    """The check runs first thing in harness/__main__.py; an interpreter older than 3.11 is simulated by
    setting sys.version_info before running the module as `python -m harness` would."""
    code = ("import runpy, sys; sys.version_info = (3, 10, 14, 'final', 0); sys.argv = ['harness', 'setup'];"
            "runpy.run_module('harness', run_name='__main__', alter_sys=True)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("python -m harness needs Python 3.11 or newer (it reads vms/matrix.toml "
                                          "with tomllib); this is Python 3.10")
