"""A tiny initramfs: static busybox, the virtio modules the kernel needs to see its disks, our /init.

Written as a newc cpio by hand (a few lines) so the host needs no cpio tool and the result is
byte-for-byte reproducible.
"""

import gzip
import lzma
import subprocess
from pathlib import Path
from typing import List, Tuple

from ..paths import project_root

BUSYBOX = Path("/bin/busybox")
# What the guest needs before it can mount its root: the virtio PCI transport and block driver.
# Built-in on some kernels; `modprobe --show-depends` says which, and lists dependencies in order.
BOOT_MODULES = ["virtio_pci", "virtio_blk", "ext4", "crc32c_generic"]
INIT_SCRIPT = project_root() / "harness" / "guest" / "init.sh"


class InitramfsError(RuntimeError):
    pass


def module_load_order(tree: Path, kver: str, names: List[str] = BOOT_MODULES) -> List[Path]:
    """Module files (inside `tree`) to insmod, dependencies first, each once."""
    order: List[Path] = []
    for name in names:
        proc = subprocess.run(["modprobe", "-d", str(tree), "-S", kver, "--show-depends", name],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            if "not found" in proc.stderr:
                continue  # not on this kernel at all (e.g. crc32c built in under another name)
            raise InitramfsError(f"modprobe --show-depends {name} ({kver}): {proc.stderr.strip()}")
        for line in proc.stdout.splitlines():
            words = line.split()
            if words[:1] == ["insmod"]:
                # modprobe prints paths with the -d base already in front
                path = Path(words[1])
                if not str(path).startswith(str(tree)):
                    path = tree / words[1].lstrip("/")
                if path not in order:
                    order.append(path)
    return order


def _decompressed(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".zst":
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    if path.suffix == ".gz":
        return gzip.decompress(data)
    return data


def build(tree: Path, kver: str, out: Path) -> List[str]:
    """Write the initramfs to `out`; return the module names it loads."""
    if not BUSYBOX.exists():
        raise InitramfsError(f"{BUSYBOX} missing: install Debian's busybox-static (python -m harness setup)")
    modules = module_load_order(tree, kver)
    entries: List[Tuple[str, int, bytes]] = [
        ("bin", 0o40755, b""), ("dev", 0o40755, b""), ("proc", 0o40755, b""), ("sys", 0o40755, b""),
        ("newroot", 0o40755, b""), ("modules", 0o40755, b""),
        ("bin/busybox", 0o100755, BUSYBOX.read_bytes()),
        ("bin/sh", 0o120777, b"busybox"),
        ("init", 0o100755, INIT_SCRIPT.read_bytes()),
    ]
    names = []
    for i, mod in enumerate(modules):
        base = mod.name.split(".ko")[0]
        names.append(base)
        entries.append((f"modules/{i:02d}-{base}.ko", 0o100644, _decompressed(mod)))
    out.write_bytes(gzip.compress(newc_archive(entries), compresslevel=6, mtime=0))
    return names


def newc_archive(entries: List[Tuple[str, int, bytes]]) -> bytes:
    blob = bytearray()
    for ino, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")], start=1):
        nlink = 2 if mode & 0o40000 else 1
        fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        blob += b"070701" + b"".join(b"%08X" % f for f in fields)
        blob += name.encode() + b"\0"
        blob += b"\0" * (-len(blob) % 4)
        blob += data
        blob += b"\0" * (-len(blob) % 4)
    return bytes(blob)
