"""The extract recorder (guest/mode_extract.py's shim) run on the host against a stand-in bcc module:
what a script compiles, the program types its load_func/attach_* calls give (as PROG lines), and the calls."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "harness" / "guest"))

import mode_extract  # noqa: E402

# Only what the recorder leaves alone: the class, its constants, and a constructor that must not run.
FAKE_BCC = '''
class BPF(object):
    SOCKET_FILTER, KPROBE = 1, 2
    def __init__(self, *args, **kwargs):
        raise SystemExit("the real BPF() ran")
'''
SCRIPT = '''
import time
from bcc import BPF
prog = """
int drop_udp(struct __sk_buff *skb) { return load_byte(skb, 23) == 17 ? 0 : -1; }
int on_open(struct pt_regs *ctx) { return 0; }
"""
b = BPF(text=prog, cflags=["-DX=1"])
fn = b.load_func("drop_udp", BPF.SOCKET_FILTER)
BPF.attach_raw_socket(fn, "lo")
b.attach_kprobe(event="do_sys_openat2", fn_name="on_open")
b.attach_kprobe(event="vfs_read", fn_name="not_in_the_text")
while True:
    time.sleep(1)
'''


def record(tmp_path: Path, script: str, fake_bcc: str = FAKE_BCC) -> str:
    """Run `script` under the recorder's shim with `fake_bcc` as bcc; what the recorder wrote."""
    (tmp_path / "shim").mkdir()
    (tmp_path / "shim" / "sitecustomize.py").write_text(mode_extract.EXTRACT_SHIM)
    (tmp_path / "fake" / "bcc").mkdir(parents=True)
    (tmp_path / "fake" / "bcc" / "__init__.py").write_text(fake_bcc)
    (tmp_path / "report.py").write_text(script)
    out = tmp_path / "report.c"
    env = {"PYTHONPATH": f"{tmp_path / 'shim'}:{tmp_path / 'fake'}", "HARNESS_EXTRACT_OUT": str(out)}
    proc = subprocess.run([sys.executable, str(tmp_path / "report.py")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr        # an alarm ends a script's endless loop
    return out.read_text()


def test_recorder_writes_the_text_and_the_types_its_calls_give(tmp_path):
    text = record(tmp_path, SCRIPT)
    assert text.startswith("// CFLAGS: -DX=1\n\nint drop_udp(")
    program, _, calls = text.partition("// ATTACH-CALL:")
    assert program.endswith("// PROG: drop_udp socket_filter\n// PROG: on_open kprobe\n")
    assert "not_in_the_text" not in program
    # every attach call, for triage to judge (tests/test_triage.py): the function not in the text too (the
    # stand-in has no attach_raw_socket whose signature would name its positional arguments)
    assert [ln for ln in text.splitlines() if ln.startswith("// ATTACH-CALL:")] == [
        '// ATTACH-CALL: {"call": "attach_raw_socket"}',
        '// ATTACH-CALL: {"call": "attach_kprobe", "event": "do_sys_openat2", "fn_name": "on_open"}',
        '// ATTACH-CALL: {"call": "attach_kprobe", "event": "vfs_read", "fn_name": "not_in_the_text"}']
