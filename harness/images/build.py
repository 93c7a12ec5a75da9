"""The two kinds of image a cell needs, each built once and cached (see store.py).

- rewriter image: a Debian root filesystem with bcc's Python bindings (libbcc = the rewriter) and python3,
  made with mmdebstrap; as a directory (for split mode on the host) and as an ext4 disk (for VMs).
- kernel image: a Debian kernel with its modules and headers, from the archive's packages, plus our
  tiny initramfs and an ext4 disk holding lib/modules/<kver> and usr/src for the guest.
"""

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from ..progress import Progress, silent
from . import initramfs
from .debian import PrivateApt, extract_deb, upstream_version
from .source import SourceSpec, fingerprint, source_image
from .store import Image, Recipe, ensure, lookup
from .tools import ImageError, dpkg_versions, ext4_disk, run_tool  # noqa: F401 (re-exported)

# Bump when what a recipe produces changes, so caches rebuild instead of being reused wrongly.
REWRITER_RECIPE = 1
KERNEL_RECIPE = 2

# Left out of rewriter roots: nothing in them is read by bcc or the guest program.
DPKG_EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*"]


@dataclass(frozen=True)
class RewriterSpec:
    name: str                 # cell axis name, e.g. "bcc-0.26"
    suite: str                # Debian suite it comes from (built from source: whose LLVM and root)
    packages: tuple = ("python3-bpfcc", "python3-pyroute2")   # pyroute2: network setup and tc/XDP attach
    source: Optional[SourceSpec] = None    # built from a bcc tree instead of Debian's package

    def recipe(self) -> Recipe:
        inputs = {"suite": self.suite, "packages": list(self.packages), "recipe": REWRITER_RECIPE}
        if self.source:
            inputs["source"] = fingerprint(self.source)
        return Recipe("rewriter", self.name, inputs)


@dataclass(frozen=True)
class KernelSpec:
    name: str                 # cell axis name, e.g. "linux-6.1"
    suite: str
    package: str = "linux-image-cloud-amd64"   # metapackage or exact linux-image-<kver> package

    def recipe(self) -> Recipe:
        # The initramfs carries our init script: a changed script is a new image.
        init = hashlib.sha256(initramfs.INIT_SCRIPT.read_bytes()).hexdigest()[:12]
        return Recipe("kernel", self.name, {"suite": self.suite, "package": self.package,
                                            "recipe": KERNEL_RECIPE, "init": init})


def rewriter_image(spec: RewriterSpec, progress: Progress = silent) -> Image:
    if spec.source:
        return source_image(spec, rewriter_image(spec.source.base, progress), progress)

    def build(scratch: Path) -> Dict[str, object]:
        task = f"rewriter {spec.name}"
        apt = PrivateApt(spec.suite)
        root = scratch / "root"
        progress(task, 0, 3, f"mmdebstrap {spec.suite} (about a minute)")
        argv = ["mmdebstrap", "--variant=minbase", "--include=" + ",".join(spec.packages)]
        argv += [f"--dpkgopt=path-exclude={p}" for p in DPKG_EXCLUDES]
        argv += ["--aptopt=Acquire::Check-Valid-Until \"false\""]
        argv += [spec.suite, str(root), apt.source_line()]
        run_tool(argv, f"mmdebstrap of {spec.suite}")
        versions = dpkg_versions(root)
        if "python3-bpfcc" not in versions:
            raise ImageError(f"{spec.suite}: python3-bpfcc did not install")
        # Mount points the guest init uses, so it never has to write outside /run and /tmp.
        for d in ("mnt/kernel", "run/harness"):
            (root / d).mkdir(parents=True, exist_ok=True)
        progress(task, 2, 3, "ext4 disk")
        ext4_disk(root, scratch / "rootfs.img", "rewriter")
        progress(task, 3, 3, "done")
        python = next((v for k, v in versions.items() if re.fullmatch(r"python3\.\d+", k)), "")
        return {
            "suite": spec.suite,
            "bcc_version": upstream_version(versions["python3-bpfcc"]),
            "packages": {k: versions[k] for k in ("python3-bpfcc", "libbpfcc") if k in versions},
            "python": upstream_version(python),
            "clang": next((k for k in versions if re.fullmatch(r"libclang-cpp\d+", k)), ""),
            "mirror": apt.mirror,
        }

    return ensure(spec.recipe(), build)


def kernel_image(spec: KernelSpec, progress: Progress = silent) -> Image:
    def build(scratch: Path) -> Dict[str, object]:
        task = f"kernel {spec.name}"
        apt = PrivateApt(spec.suite)
        progress(task, 0, 5, "resolving packages")
        # A metapackage (linux-image-cloud-amd64) depends on the versioned package; take that one.
        image_pkg = spec.package
        versioned = [d for d in apt.depends(image_pkg) if re.match(r"linux-image-\d", d)]
        if versioned:
            image_pkg = versioned[0]
        kver = image_pkg[len("linux-image-"):]
        headers_pkg = "linux-headers-" + kver
        # Newer suites split the image into linux-binary-/linux-modules-<kver> packages it depends on.
        wanted = [image_pkg]
        for name in wanted:   # grows while it is walked: the closure of <kver> packages
            wanted += [d for d in apt.depends(name) if kver in d and d not in wanted]
        wanted += [headers_pkg] + [d for d in apt.depends(headers_pkg) if d.startswith("linux-headers-")]
        versions = {name: apt.resolve(name).version for name in wanted}
        progress(task, 1, 5, f"downloading {len(wanted)} packages")
        debs = apt.download(wanted, scratch / "debs")
        tree = scratch / "tree"
        progress(task, 2, 5, "extracting")
        for deb in debs:
            extract_deb(deb, tree)
        shutil.rmtree(scratch / "debs")
        _normalize_modules(tree, kver)
        run_tool(["depmod", "-b", str(tree), kver], "depmod")
        progress(task, 3, 5, "initramfs")
        shutil.copy(_find(tree, kver, "vmlinuz"), scratch / "vmlinuz")
        shutil.copy(_find(tree, kver, "System.map"), scratch / "System.map")
        modules = initramfs.build(tree, kver, scratch / "initrd.img")
        progress(task, 4, 5, "ext4 disk")
        ext4_disk(tree, scratch / "kernel.img", "kernel")
        progress(task, 5, 5, "done")
        return {
            "suite": spec.suite,
            "kver": kver,
            "kernel_version": upstream_version(versions[image_pkg]),
            "packages": versions,
            "initramfs_modules": modules,
            "mirror": apt.mirror,
        }

    return ensure(spec.recipe(), build)


def _find(tree: Path, kver: str, name: str) -> Path:
    """boot/<name>-<kver>, or lib/modules/<kver>/<name> where newer suites ship it."""
    for path in (tree / "boot" / f"{name}-{kver}", tree / "lib/modules" / kver / name):
        if path.exists():
            return path
    raise ImageError(f"{name} for {kver} is in none of the kernel packages")


def _normalize_modules(tree: Path, kver: str) -> None:
    """Newer suites ship modules under usr/lib/modules; the guest init and depmod expect lib/modules."""
    usr = tree / "usr/lib/modules" / kver
    lib = tree / "lib/modules" / kver
    if usr.exists() and not lib.exists():
        lib.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(usr), str(lib))
    if not lib.exists():
        raise ImageError(f"kernel {kver}: no modules directory in the extracted packages")
    # Newer suites link build/source relative to usr/lib/modules/<kver>; make them absolute so they
    # resolve from lib/modules/<kver> in any root (merged-/usr or not).
    for name in ("build", "source"):
        link = lib / name
        if link.is_symlink() and not os.readlink(link).startswith("/"):
            target = os.path.normpath(os.path.join("/usr/lib/modules", kver, os.readlink(link)))
            link.unlink()
            link.symlink_to(target)


def cached(spec) -> Optional[Image]:
    return lookup(spec.recipe())


def describe(image: Image) -> str:
    m = image.manifest
    return json.dumps({k: m.get(k) for k in ("suite", "bcc_version", "kver", "kernel_version") if k in m})
