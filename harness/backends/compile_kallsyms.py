"""The /proc/kallsyms a host compile sees: only the lines of the symbols bcc's compile looks up.

Every BPF() loads the whole of /proc/kallsyms into a hash map (bcc_symcache_new(-1) in
src/cc/frontends/clang/b_frontend_action.cc, get_symbol_resolver), to ask two questions: does the kernel
have bpf_probe_read_kernel (check_bpf_probe_read_kernel: the rewriter then emits it instead of
bpf_probe_read) and bpf_probe_read_user (check_bpf_probe_read_user). Nothing else in a compile reads it:
the Python side reads kallsyms only to attach or probe features (get_kprobe_functions, ksymname), which
a compile does not do (the harness's BPF class does not auto-attach). The same holds from v0.31.0 to
upstream's default branch (`git grep bcc_symcache_new` in ../shared/bcc), and the proof covers the
releases before (bench/bench_compile_kallsyms.py: every case of the corpus byte-identical in one cell of
each rewriter release).

A kernel's kallsyms has about 160,000 lines: loading them cost about 0.1 s of CPU per compile, half of a
small program's whole compile, and more than 3,000 compiles run in the matrix. A file with just those
lines (when the kernel has them) answers both questions the same way.

The report sandbox, where a tool's own Python runs and may read kallsyms for anything, keeps the full file.
"""

from pathlib import Path

# the names bcc's rewriter looks up while it compiles (b_frontend_action.cc)
LOOKED_UP = ("bpf_probe_read_kernel", "bpf_probe_read_user")


def write_compile_kallsyms(full: Path, dest: Path) -> Path:
    """The lines of `full` (the kernel's kallsyms) that name a symbol in LOOKED_UP, written to `dest`."""
    names = {name.encode() for name in LOOKED_UP}
    with open(full, "rb") as f:
        kept = [line for line in f if _symbol(line) in names]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(b"".join(kept))
    return dest


def _symbol(line: bytes) -> bytes:
    """The name in a kallsyms line, "address type name[\t[module]]" (bcc_procutils_each_ksym's reading)."""
    fields = line.split(b"\t")[0].split()
    return fields[2] if len(fields) >= 3 else b""
