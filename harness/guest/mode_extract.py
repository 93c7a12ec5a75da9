"""Mode extract: run Python tool scripts with BPF() replaced by a recorder of the text they compile.

On the host this runs in the report sandbox (harness/sandbox.py) as PID 1 of its own PID namespace:
each script gets OUT/<tool>.d as its working (scratch) directory, and whatever it leaves running is
killed before the next one starts."""

import json
import os
import signal
import subprocess
import sys

from guestlib import say

EXTRACT_SHIM = """
import os
try:
    import bcc

    def _record(self, src_file=b"", hdr_file=b"", text=None, debug=0, cflags=[], *args, **kwargs):
        if text is None and src_file:
            with open(src_file, "rb") as f:
                text = f.read()
        if isinstance(text, bytes):
            text = text.decode()
        flags = " ".join(c.decode() if isinstance(c, bytes) else str(c) for c in (cflags or []))
        with open(os.environ["HARNESS_EXTRACT_OUT"], "w") as f:
            if flags:
                f.write("// CFLAGS: " + flags + "\\n")
            f.write(text or "")
        os._exit(0)

    bcc.BPF.__init__ = _record
except Exception:
    pass
"""


def extract_all(inp, out, job):
    """Each tool script, run with no arguments, writes the text it passes to BPF() and stops there."""
    shim = os.path.join("/tmp", "harness-extract-shim")
    os.makedirs(shim, exist_ok=True)
    with open(os.path.join(shim, "sitecustomize.py"), "w") as f:
        f.write(EXTRACT_SHIM)
    for n, tool in enumerate(job["tools"], 1):
        say("start", n, len(job["tools"]), tool)
        text_path = os.path.join(out, tool + ".c")
        env = dict(os.environ, PYTHONPATH=shim, HARNESS_EXTRACT_OUT=text_path)
        scratch = os.path.join(out, tool + ".d")
        os.makedirs(scratch, exist_ok=True)
        err_path = os.path.join(out, tool + ".stderr")
        try:
            with open(err_path, "wb") as err_file:     # a file, not a pipe: its size is the script's limit
                proc = subprocess.run([sys.executable, os.path.join(inp, "tools", tool)], env=env, cwd=scratch,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err_file,
                                      timeout=job.get("case_timeout", 60))
            code = proc.returncode if proc.returncode >= 0 else "signal-%d" % -proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        if os.getpid() == 1:    # the sandbox's init: nothing the script started outlives it (fork bombs)
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        err = _tail(err_path, 1500)
        with open(os.path.join(out, tool + ".json"), "w") as f:
            json.dump({"tool": tool, "exit": code, "extracted": os.path.exists(text_path),
                       "stderr": err[-1500:]}, f)
        say("done", n, len(job["tools"]), tool, code)


def _tail(path, size):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""
