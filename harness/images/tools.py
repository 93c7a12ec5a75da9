"""Small tools every image builder uses: run a host program, make an ext4 disk, read dpkg's status."""

import re
import subprocess
from pathlib import Path
from typing import Dict, List


class ImageError(RuntimeError):
    pass


def run_tool(argv: List[str], what: str, **kw) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise ImageError(f"{what} failed (exit {proc.returncode}): {' '.join(argv[:3])} ...\n"
                         f"{(proc.stderr or proc.stdout)[-3000:]}")
    return proc.stdout


def ext4_disk(tree: Path, out: Path, label: str) -> None:
    used = int(run_tool(["du", "-sb", str(tree)], "du").split()[0])
    size_mb = int(used * 1.25 / 2**20) + 128
    run_tool(["mke2fs", "-q", "-F", "-t", "ext4", "-L", label, "-d", str(tree), str(out), f"{size_mb}M"],
         f"mke2fs of {label}")


def dpkg_versions(root: Path) -> Dict[str, str]:
    """Installed package -> version, read from a root's dpkg status file."""
    versions: Dict[str, str] = {}
    for block in (root / "var/lib/dpkg/status").read_text().split("\n\n"):
        name = re.search(r"^Package: (.+)$", block, re.M)
        version = re.search(r"^Version: (.+)$", block, re.M)
        if name and version and "Status: install ok installed" in block:
            versions[name.group(1)] = version.group(1)
    return versions
