"""Mode capture: this kernel's personality (kallsyms, BTF, tracepoint formats) for split mode."""

import glob
import os
import tarfile

from guestlib import say


def _add_file(tar, path, arcname):
    """Add a file by reading it: tracefs, debugfs and procfs files report a size of 0 to stat()."""
    import io
    with open(path, "rb") as f:
        data = f.read()
    info = tarfile.TarInfo(arcname)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def capture(out):
    """This kernel's personality: what bcc reads from the running kernel while compiling."""
    dest = os.path.join(out, "personality.tar.gz")
    tracing = "/sys/kernel/debug/tracing" if os.path.isdir("/sys/kernel/debug/tracing/events") \
        else "/sys/kernel/tracing"
    with tarfile.open(dest, "w:gz") as tar:
        for path, arc in (("/proc/kallsyms", "kallsyms"), ("/sys/kernel/btf/vmlinux", "btf/vmlinux"),
                          ("/sys/kernel/debug/kprobes/blacklist", "kprobes/blacklist"),
                          (tracing + "/available_filter_functions", "tracing/available_filter_functions")):
            if os.path.exists(path):
                _add_file(tar, path, arc)
        for fmt in glob.glob(tracing + "/events/*/*/format") + glob.glob(tracing + "/events/*/*/id"):
            _add_file(tar, fmt, "tracing/" + os.path.relpath(fmt, tracing))
    say("captured", dest)
