"""A Vagrant box (vagrant-libvirt) of one cell, built from the cell's own images and cached like them.

No box can be downloaded here, and a box from elsewhere would not hold the cell's bcc and kernel, so the
harness makes its own: the rewriter root built again by build.rewriter_image with what a Vagrant guest
needs (systemd, sshd, sudo), the kernel image's modules and headers copied in, a `vagrant` user with a
key generated per box, and the kernel image's vmlinuz booted directly by libvirt (no bootloader on the
disk) with its initramfs plus a second archive whose /init hands over to systemd.

The box file holds box.img (qcow2), metadata.json, a Vagrantfile with the box's own settings (kernel,
initrd, command line, ssh user and key, all as paths inside the unpacked box), vmlinuz, initrd.img and
the key pair.
"""

import gzip
import hashlib
import json
import math
import os
import shutil
import tarfile
from pathlib import Path
from typing import Dict

from ..progress import Progress, silent
from .build import ImageError, RewriterSpec, ext4_disk, run_tool, rewriter_image
from .initramfs import newc_archive
from .store import Image, Recipe, ensure

BOX_RECIPE = 3
BOX_FILE = "harness.box"
# What a Vagrant guest needs on top of the rewriter root: an init, device events (udev loads the
# virtio network driver), sshd for vagrant's communicator, sudo for `vagrant ssh -c 'sudo ...'`.
BOX_PACKAGES = ("systemd-sysv", "udev", "kmod", "openssh-server", "sudo")
CMDLINE = "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 quiet loglevel=4"

# Appended to the kernel image's initramfs: the later archive's /init replaces the harness's guest init,
# the modules it loads (virtio, the disk driver) stay.
BOX_INIT = b"""#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /modules/*.ko; do insmod "$m" 2>/dev/null; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "HARNESS-STAGE failed mount-root"; poweroff -f; }
umount /proc /sys /dev
exec switch_root /newroot /sbin/init
"""

# DHCP on the one NIC: vagrant-libvirt learns the guest's address from libvirt's DHCP leases.
NETWORK_UNIT = "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n"

VAGRANTFILE = """# Settings of this box (harness-built): libvirt boots the kernel in the box directly,
# vagrant logs in with the key in the box.
Vagrant.configure("2") do |config|
  config.ssh.username = "vagrant"
  config.ssh.private_key_path = File.join(__dir__, "vagrant_key")
  config.ssh.insert_key = false
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :libvirt do |libvirt|
    libvirt.kernel = File.join(__dir__, "vmlinuz")
    libvirt.initrd = File.join(__dir__, "initrd.img")
    libvirt.cmd_line = "%s"
  end
end
"""


def box_root_spec(rewriter: Image) -> RewriterSpec:
    """The cell's rewriter recipe (read back from its manifest) with the box packages added."""
    recipe = rewriter.manifest["recipe"]
    inputs = recipe["inputs"]
    return RewriterSpec(f"{recipe['name']}-box", inputs["suite"], tuple(inputs["packages"]) + BOX_PACKAGES)


def box_recipe(rewriter: Image, kernel: Image) -> Recipe:
    # A changed init, unit or Vagrantfile is a new box.
    files = hashlib.sha256(BOX_INIT + (NETWORK_UNIT + VAGRANTFILE + CMDLINE).encode()).hexdigest()[:12]
    return Recipe("box", f"{rewriter.manifest['recipe']['name']}-{kernel.manifest['recipe']['name']}",
                  {"root": box_root_spec(rewriter).recipe().key(), "kernel": kernel.manifest["key"],
                   "recipe": BOX_RECIPE, "files": files})


def box_image(rewriter: Image, kernel: Image, progress: Progress = silent) -> Image:
    """The cached box of a cell (built first if needed); its file is image.file(BOX_FILE)."""
    recipe = box_recipe(rewriter, kernel)

    def build(scratch: Path) -> Dict[str, object]:
        task = f"box {recipe.name}"
        root_image = rewriter_image(box_root_spec(rewriter), progress)
        if root_image.manifest["packages"] != rewriter.manifest["packages"]:   # results name the cell's bcc
            raise ImageError(f"the box root has {root_image.manifest['packages']}, the cell's rewriter image "
                             f"{rewriter.manifest['packages']}: the archive moved; rebuild both")
        progress(task, 0, 3, "box root")
        root = scratch / "root"
        run_tool(["cp", "-a", str(root_image.file("root")), str(root)], "copy of the box root")
        _add_kernel(root, kernel.file("tree"), kernel.manifest["kver"])
        _add_vagrant_user(root, scratch)
        _enable_dhcp(root)
        progress(task, 1, 3, "disk")
        work = scratch / "box"
        work.mkdir()
        size_gb = _qcow2_disk(root, scratch / "box.raw", work / "box.img")
        shutil.copy(kernel.file("vmlinuz"), work / "vmlinuz")
        with open(work / "initrd.img", "wb") as f:
            f.write(kernel.file("initrd.img").read_bytes())
            f.write(gzip.compress(newc_archive([("init", 0o100755, BOX_INIT)]), mtime=0))
        for name in ("vagrant_key", "vagrant_key.pub"):
            shutil.copy(scratch / name, work / name)
        (work / "metadata.json").write_text(json.dumps({"provider": "libvirt", "format": "qcow2",
                                                        "virtual_size": size_gb}))
        (work / "Vagrantfile").write_text(VAGRANTFILE % CMDLINE)
        progress(task, 2, 3, "box file")
        with tarfile.open(scratch / BOX_FILE, "w") as tar:
            for item in sorted(work.iterdir()):
                tar.add(item, arcname=item.name)
        shutil.rmtree(work)
        (scratch / "vagrant_key.pub").unlink()
        progress(task, 3, 3, "done")
        return {"suite": root_image.manifest["suite"], "bcc_version": root_image.manifest["bcc_version"],
                "kver": kernel.manifest["kver"], "kernel_version": kernel.manifest["kernel_version"],
                "rewriter_key": rewriter.manifest["key"], "kernel_key": kernel.manifest["key"],
                "box_root": root_image.path.name, "virtual_size_gb": size_gb}

    return ensure(recipe, build)


def _qcow2_disk(root: Path, raw: Path, dest: Path) -> int:
    """The root as an ext4 disk of whole GiB (metadata.json counts in GiB) with one more free for the
    guest's results, converted to qcow2 (vagrant-libvirt's box format); returns its size in GiB."""
    ext4_disk(root, raw, "box")
    shutil.rmtree(root)
    size_gb = math.ceil(raw.stat().st_size / 2**30) + 1
    os.truncate(raw, size_gb * 2**30)
    run_tool(["resize2fs", "-f", str(raw)], "resize2fs")
    run_tool(["qemu-img", "convert", "-O", "qcow2", str(raw), str(dest)], "qemu-img convert")
    raw.unlink()
    return size_gb


def _add_kernel(root: Path, tree: Path, kver: str) -> None:
    """The kernel's modules (udev loads drivers from them) and headers (bcc compiles against them)."""
    if not (tree / "lib/modules" / kver).is_dir():
        raise ImageError(f"kernel image has no tree/lib/modules/{kver}")
    # root/lib is a relative symlink to usr/lib in merged-/usr roots: copy through it.
    (root / "lib/modules").mkdir(parents=True, exist_ok=True)
    run_tool(["cp", "-a", str(tree / "lib/modules" / kver), str(root / "lib/modules/")], "copy of the modules")
    run_tool(["cp", "-a", f"{tree / 'usr/src'}/.", str(root / "usr/src/")], "copy of the headers")


def _chroot(root: Path, *argv: str) -> None:
    run_tool(["chroot", str(root), *argv], f"chroot {argv[0]}")


def _add_vagrant_user(root: Path, scratch: Path) -> None:
    """The `vagrant` user with passwordless sudo and a key made for this box (never the insecure key)."""
    _chroot(root, "useradd", "--create-home", "--shell", "/bin/bash", "vagrant")
    run_tool(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bcc-harness box", "-f",
          str(scratch / "vagrant_key")], "ssh-keygen")
    ssh = root / "home/vagrant/.ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "authorized_keys").write_text((scratch / "vagrant_key.pub").read_text())
    (ssh / "authorized_keys").chmod(0o600)
    _chroot(root, "chown", "-R", "vagrant:vagrant", "/home/vagrant/.ssh")
    sudoers = root / "etc/sudoers.d/vagrant"
    sudoers.write_text("vagrant ALL=(ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    (root / "etc/hostname").write_text("harness-box\n")
    with open(root / "etc/hosts", "a") as hosts:
        hosts.write("127.0.1.1 harness-box\n")


def _enable_dhcp(root: Path) -> None:
    (root / "etc/systemd/network/80-harness.network").write_text(NETWORK_UNIT)
    _chroot(root, "systemctl", "enable", "systemd-networkd")
