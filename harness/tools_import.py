"""`import-tools`: bcc's own tools (Debian's bpfcc-tools of a rewriter's suite) as a real-world corpus.

Each tool script runs with no arguments (its default options) inside the rewriter's root, in the split
report sandbox (sandbox.py: no capability over the host, capped resources), with BPF() replaced by a
recorder of the text it would compile (guest/runner.py, mode "extract"); the text becomes a report-only
case under cases/tools/<rewriter>/, keeping its origin. Debian's scripts are treated as untrusted input
like any report: imported cases compile on the host only in the memory-capped compile sandbox.
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

from .backends.base import new_guest_input
from .backends.qemu import QemuBackend
from .backends.split import personality, run_report_scripts
from .images.build import RewriterSpec, kernel_image, rewriter_image
from .images.debian import PrivateApt, extract_deb
from .matrix import Matrix
from .paths import cache_dir
from .progress import Progress
from .report_attach import without_calls


@dataclass(frozen=True)
class Imported:
    written: Tuple[str, ...]
    skipped: Tuple[Tuple[str, str], ...]     # (tool, reason)
    version: str


def tool_scripts(suite: str, progress: Progress) -> Tuple[Path, str]:
    """Debian's bpfcc-tools of `suite`, unpacked once into the cache: (sbin dir, package version)."""
    apt = PrivateApt(suite)
    package = apt.resolve("bpfcc-tools")
    dest = cache_dir() / "tools" / f"{suite}-{package.version}"
    if not (dest / "usr/sbin").exists():
        progress(f"bpfcc-tools {suite}", 0, 1, "downloading")
        tmp = dest.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for deb in apt.download(["bpfcc-tools"], tmp / "debs"):
            extract_deb(deb, tmp / "tree")
        shutil.rmtree(dest, ignore_errors=True)
        (tmp / "tree").rename(dest)
        shutil.rmtree(tmp, ignore_errors=True)
        progress(f"bpfcc-tools {suite}", 1, 1, "unpacked")
    return dest / "usr/sbin", package.version


def _is_python(path: Path) -> bool:
    try:
        return path.read_bytes()[:64].startswith(b"#!") and b"python" in path.read_bytes()[:64]
    except OSError:
        return False


def case_text(tool: str, script: str, version: str, suite: str, text: str) -> str:
    header = (f"// CASE: bcc tool {tool} as Debian's bpfcc-tools {version} ({suite}) builds it by default\n"
              f"// ORIGIN: bpfcc-tools {version} {suite} /usr/sbin/{script}\n"
              f"// REPORT-ONLY\n")
    return header + without_calls(text).rstrip() + "\n"    # attach calls give triage, not imports, points


def import_tools(matrix: Matrix, rewriter: str, cases_root: Path, progress: Progress) -> Imported:
    spec: RewriterSpec = matrix.rewriters[rewriter]
    kernel_spec = next((k for k in matrix.kernels.values() if k.suite == spec.suite),
                       next(iter(matrix.kernels.values())))
    root_image = rewriter_image(spec, progress)
    kernel = kernel_image(kernel_spec, progress)
    pers = personality(kernel, root_image, QemuBackend(), progress)
    sbin, version = tool_scripts(spec.suite, progress)
    work = cache_dir() / "tools" / f"work-{rewriter}"
    shutil.rmtree(work, ignore_errors=True)
    inp = work / "in"
    new_guest_input(inp)
    (inp / "tools").mkdir()
    skipped: List[Tuple[str, str]] = []
    tools = []
    for script in sorted(sbin.glob("*-bpfcc")):
        if not _is_python(script):
            skipped.append((script.name, "not a Python script"))
            continue
        shutil.copy(script, inp / "tools" / script.name)
        tools.append(script.name)
    (inp / "job.json").write_text(json.dumps({"mode": "extract", "tools": tools, "case_timeout": 60}))
    progress(f"import-tools {rewriter}", 0, len(tools), "running the scripts in the sandbox")
    ran = run_report_scripts(root_image, kernel, pers, inp, work, "extract", 60 * len(tools) + 120)
    if ran.problem:
        raise RuntimeError(f"tool extraction failed: {ran.problem}")
    out = ran.out
    dest = cases_root / "tools" / rewriter
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for script in tools:
        tool = script[: -len("-bpfcc")]
        try:
            info = json.loads((out / f"{script}.json").read_text())
        except (OSError, ValueError):
            skipped.append((script, "the extraction recorded nothing (sandbox stopped?)"))
            continue
        text_path = out / f"{script}.c"
        if not info.get("extracted") or not text_path.exists() or not text_path.read_text().strip():
            last = (info.get("stderr") or "").strip().splitlines()[-1:]
            why = last[0][:160] if last else f"exited ({info.get('exit')}) without calling BPF()"
            skipped.append((script, f"no BPF() text with default options: {why}"))
            continue
        (dest / f"{tool}.c").write_text(case_text(tool, script, version, spec.suite, text_path.read_text()))
        written.append(tool)
    return Imported(tuple(written), tuple(skipped), version)
