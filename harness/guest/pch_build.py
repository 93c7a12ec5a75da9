"""Building a PCH of an include set with the clang matching libbcc, and reading what clang printed
(its first error's place, its warnings) for shared_headers.py.

Two details make clang accept the PCH inside bcc:
- bcc's own headers (helpers.h, bpf.h, ...) exist only in libbcc's memory; they are read out of the
  loaded library (virtual_files) and remapped to the same /virtual paths when the PCH is built;
- clang refuses a PCH whose input files are overridden later (bcc overrides its headers), unless the
  PCH embeds them: -fmodules-embed-all-files marks every input file transient and embeds it.

Stdlib only (this runs with the rewriter root's python3).
"""

import ctypes
import json
import os
import re
import subprocess
import time

from include_sets import guard_checks

# what a compile's own cc1 line has that a PCH build must not: its action, output and input
DROP = {"-emit-llvm-bc", "-emit-llvm-uselists"}
DIAGNOSTIC = re.compile(r"^\S.*?:\d+:\d+: (warning|error|fatal error): ")
COUNT = re.compile(r"^\d+ (warning|error)s?( and \d+ errors?)? generated\.$")    # "3 warnings and 1 error generated."


def cc1_args(log_text):
    """bcc's cc1 arguments, from the `clang -cc1 ...` line DEBUG_PREPROCESSOR writes first."""
    for line in log_text.splitlines():
        if line.startswith("clang -cc1 "):
            return line.split(" ")[2:]
    return None


def pch_argv(clang, cc1, remaps, header, out):
    """A PCH build with the options of bcc's compile: same parse, other action, input and output."""
    args = list(cc1)
    if "-o" not in args or args[-3:-1] != ["-x", "c"]:
        raise ValueError("unexpected cc1 line shape: ... %s" % " ".join(args[-4:]))
    del args[-3:]                       # -x c /virtual/main.c
    i = args.index("-o")
    del args[i:i + 2]
    args = [a for a in args if a not in DROP]
    remap_args = []
    for virtual, real in remaps:
        remap_args += ["-remap-file", "%s;%s" % (virtual, real)]
    return [clang, "-cc1"] + args + remap_args + ["-fmodules-embed-all-files", "-emit-pch", "-o", out,
                                                  "-x", "c-header", header]


def compile_dir(cc1):
    """bcc compiles from the kernel's source dir (its -I paths are relative to it). clang 14 and later
    print it as -fdebug-compilation-dir=DIR, clang 11 as two words."""
    for k, a in enumerate(cc1):
        if a.startswith("-fdebug-compilation-dir="):
            return a.split("=", 1)[1]
        if a == "-fdebug-compilation-dir" and k + 1 < len(cc1):
            return cc1[k + 1]
    return None


def virtual_files(lib):
    """bcc's in-memory headers {path: bytes}, read from the loaded libbcc's ExportedFiles maps
    (std::map<std::string, const char *>, libstdc++'s red-black tree layout on x86-64)."""
    files = {}
    for symbol in ("_ZN4ebpf13ExportedFiles8headers_B5cxx11E", "_ZN4ebpf13ExportedFiles8footers_B5cxx11E"):
        words = ctypes.cast(ctypes.addressof(ctypes.c_char.in_dll(lib, symbol)), ctypes.POINTER(ctypes.c_void_p))
        found = {}
        stack = [words[2]]              # header node's parent = the root
        while stack:
            node = stack.pop()
            if not node:
                continue
            n = ctypes.cast(node, ctypes.POINTER(ctypes.c_void_p))
            found[ctypes.string_at(n[4], n[5]).decode()] = ctypes.string_at(n[8])
            stack += [n[2], n[3]]
        if len(found) != (words[5] or 0):
            raise RuntimeError("libbcc's %s: read %d files of %d" % (symbol, len(found), words[5] or 0))
        files.update(found)
    return files


def write_virtual_files(lib, dest):
    """bcc's headers as real files under dest, as (virtual path, real path) pairs for -remap-file."""
    remaps = []
    for path, content in sorted(virtual_files(lib).items()):
        real = os.path.join(dest, path.lstrip("/"))
        os.makedirs(os.path.dirname(real), exist_ok=True)
        with open(real, "wb") as f:
            f.write(content)
        remaps.append((path, real))
    return remaps


def set_header(workdir, key):
    """The header a set's PCH is built from (clang names it in the build's diagnostics)."""
    return os.path.join(workdir, "%s.h" % key)


def build_pch(clang, cc1, lines, key, workdir, remaps):
    """Build one include set's PCH; returns (path, seconds, error, what clang printed)."""
    header = set_header(workdir, key)
    with open(header, "w") as f:
        f.write("\n".join(list(lines) + guard_checks(lines)) + "\n")
    out = os.path.join(workdir, "%s.pch" % key)
    t0 = time.monotonic()
    try:
        argv = pch_argv(clang, cc1, remaps, header, out)
        proc = subprocess.run(argv, cwd=compile_dir(cc1), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=300)
    except (ValueError, OSError, subprocess.SubprocessError) as e:
        return None, time.monotonic() - t0, str(e), ""
    if proc.returncode != 0:
        return None, time.monotonic() - t0, "clang exited %d: %s" % (proc.returncode, proc.stdout[-1500:]), proc.stdout
    return out, time.monotonic() - t0, "", proc.stdout


INCLUDED_FROM = re.compile(r"^In file included from (.+):(\d+):$")


def failing_include(printed, header):
    """Which of the set's #include lines (1-based) its failed PCH build's first error came from, read
    from clang's "In file included from" chain (outermost first), or None when the error is not inside
    one of them (bcc's own headers, the command line). Parsing stops nowhere before that line and
    depends on nothing after it, so any set of these cflags with the same lines up to it fails there."""
    where, _ = first_error(printed)
    return where[1] if where and where[0] == header else None


def first_error(printed):
    """((file, line) the first error is at, or was included from: the outermost "In file included
    from" line; the error's own line), or (None, "") when clang printed no error. clang prints a
    header's include chain once: a diagnostic right after another in the same header (kernel 7.2's
    fs.h warns at 2438, then fails at 2442) has none of its own, and shares that one's."""
    chain, last = [], (None, [])
    for line in printed.splitlines():
        m = INCLUDED_FROM.match(line)
        if m:
            chain.append((m.group(1), int(m.group(2))))
            continue
        d = DIAGNOSTIC.match(line)
        if d:
            where = line.split(":", 1)[0]
            if not chain and where == last[0]:
                chain = last[1]
            if d.group(1) != "warning":
                return (chain[0] if chain else (where, int(line.split(":")[1]))), line
            last = (where, chain)
        chain = []
    return None, ""


def header_warnings(printed):
    """The warning blocks a PCH build printed ("In file included from" chain, the warning, its source
    line, caret and notes), each as its exact text. A compile with the PCH does not print them again:
    clang 11 (bcc 0.18) warns on macros that the kernel headers redefine, once per parse."""
    blocks, current, chained = [], [], False
    for line in printed.splitlines(True):
        starts = not chained and (line.startswith("In file included from ") or DIAGNOSTIC.match(line))
        if starts or COUNT.match(line.rstrip("\n")):
            blocks.append("".join(current))
            current = []
        if not COUNT.match(line.rstrip("\n")):
            current.append(line)
        chained = line.startswith("In file included from ")
    blocks.append("".join(current))
    return [b for b in blocks if any((DIAGNOSTIC.match(x) or ("", ""))[1] == "warning" for x in b.splitlines())]


def kept_sets(directory):
    """{key: (PCH path, its build's header warnings)} of the PCHs a compile kept (Sharing.keep)."""
    sets = {}
    if not directory or not os.path.isdir(directory):
        return sets
    for name in os.listdir(directory):
        key, ext = os.path.splitext(name)
        if ext == ".pch" and os.path.exists(os.path.join(directory, key + ".json")):
            with open(os.path.join(directory, key + ".json")) as f:
                sets[key] = (os.path.join(directory, name), json.load(f).get("header_warnings", []))
    return sets
