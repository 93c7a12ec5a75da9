"""The clang that builds shared-header PCHs for a rewriter image (guest/shared_headers.py).

A PCH is only read by the clang that wrote it, so the binary must be of exactly the LLVM build libbcc
links. The rewriter images hold libclang-cpp but no clang binary; the suite's `clang-N` package of the
same version as the image's libclang-cppN is unpacked (not installed) into its own cached image. It
runs inside the rewriter root, where its libraries (libclang-cpp, libLLVM) are the image's own.
"""

import re
import subprocess
from enum import Enum
from pathlib import Path
from typing import Optional, Tuple

from .images.debian import PrivateApt
from .images.store import Image, Recipe, ensure

RECIPE = 1


class ShareHeaders(Enum):
    """How split mode's host compile shares the parsing of kernel headers within a cell."""
    OFF = "off"         # every case parses its headers itself, as bcc alone does
    ON = "on"           # one PCH per include set (the default: byte-identical on the whole corpus,
                        # docs/findings/shared-headers.md)
    VERIFY = "verify"   # as ON, and each shared case compiled again without its PCH; where the two
                        # differ, the unshared result is kept and the difference reported


def clang_package(rewriter: Image) -> Optional[Tuple[str, str]]:
    """(package, version) of the clang matching the image's libclang-cpp, or None (a rewriter built
    from source, or an image without the fact)."""
    lib = str(rewriter.manifest.get("clang", ""))
    m = re.fullmatch(r"libclang-cpp(\d+)(?:\.\d+)*", lib)
    if not m:
        return None
    version = installed_version(rewriter.path / "root" / "var/lib/dpkg/status", lib)
    return (f"clang-{m.group(1)}", version) if version else None


def installed_version(status: Path, package: str) -> str:
    """A package's version in a dpkg status file ('' when absent)."""
    try:
        text = status.read_text(errors="replace")
    except OSError:
        return ""
    for block in text.split("\n\n"):
        if re.search(rf"^Package: {re.escape(package)}$", block, re.M):
            m = re.search(r"^Version: (\S+)$", block, re.M)
            return m.group(1) if m else ""
    return ""


def clang_image(rewriter: Image) -> Optional[Image]:
    """The cached unpacked clang for this rewriter (built on first use), or None when none matches."""
    found = clang_package(rewriter)
    suite = rewriter.manifest.get("suite")
    if not found or not suite:
        return None
    package, version = found
    recipe = Recipe("clang", f"{package}-{suite}", {"package": package, "version": version, "suite": suite,
                                                   "recipe": RECIPE})

    def build(scratch: Path):
        debs = PrivateApt(suite).download([f"{package}={version}"], scratch / "deb")
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(scratch / "tree")], check=True)
        for deb in debs:
            deb.unlink()
        if not binary(scratch).exists():
            raise RuntimeError(f"{package} {version} has no {binary(scratch).relative_to(scratch)}")
        return {"package": package, "version": version, "suite": suite}

    return ensure(recipe, build)


def binary(image_dir: Path) -> Path:
    """The clang binary inside an unpacked clang image (llvm-N/bin/clang)."""
    found = sorted((image_dir / "tree/usr/lib").glob("llvm-*/bin/clang"))
    return found[0] if found else image_dir / "tree/usr/lib/llvm/bin/clang"
