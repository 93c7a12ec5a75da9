"""Mode extract: run Python tool scripts with BPF() replaced by a recorder of the text they compile."""

import json
import os
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
        try:
            proc = subprocess.run([sys.executable, os.path.join(inp, "tools", tool)], env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=job.get("case_timeout", 60))
            code, err = proc.returncode, proc.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            code, err = "timeout", ""
        with open(os.path.join(out, tool + ".json"), "w") as f:
            json.dump({"tool": tool, "exit": code, "extracted": os.path.exists(text_path),
                       "stderr": err[-1500:]}, f)
        say("done", n, len(job["tools"]), tool, code)
