"""The host programs the harness needs, found or installed (Debian/Ubuntu: apt-get, as root).

Standard library only: `python -m harness setup` runs on a fresh machine, before rich or libclang."""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List

from .images.initramfs import BUSYBOX


@dataclass(frozen=True)
class Requirement:
    what: str
    package: str
    present: bool
    optional: bool = False      # only the harness's own tests (and Vagrant cells) need it


def _static_elf(path: Path) -> bool:
    """True for an ELF with no program interpreter (statically linked): the initramfs has no libc."""
    try:
        data = path.read_bytes()[:65536]
    except OSError:
        return False
    return data[:4] == b"\x7fELF" and b"/lib64/ld-linux" not in data and b"/lib/ld-linux" not in data


def requirements() -> List[Requirement]:
    have = shutil.which
    return [
        Requirement("qemu-system-x86_64", "qemu-system-x86", bool(have("qemu-system-x86_64"))),
        Requirement("mmdebstrap", "mmdebstrap", bool(have("mmdebstrap"))),
        Requirement("mke2fs", "e2fsprogs", bool(have("mke2fs") or Path("/usr/sbin/mke2fs").exists())),
        Requirement("static busybox", "busybox-static", _static_elf(BUSYBOX)),
        Requirement("modprobe/depmod", "kmod", bool(have("depmod") or Path("/usr/sbin/depmod").exists())),
        Requirement("dpkg-deb", "dpkg", bool(have("dpkg-deb"))),
        Requirement("apt-get", "apt", bool(have("apt-get"))),
        Requirement("chromium (report check)", "chromium", bool(have("chromium")), optional=True),
        Requirement("cvise (triage --reduce)", "cvise", bool(have("cvise")), optional=True),
    ] + vagrant_requirements()


def vagrant_requirements() -> List[Requirement]:
    """Vagrant cells (vms/matrix.toml backend = "vagrant") and tests/test_vagrant.py. Only the daemon and
    its drivers, not libvirt-daemon-system: that one starts libvirtd and its NAT network on the host,
    where the test starts its own inside a network namespace."""
    have = shutil.which
    libdir = Path("/usr/lib") / "x86_64-linux-gnu" / "libvirt" / "connection-driver"
    return [Requirement(what, package, present, optional=True) for what, package, present in [
        ("vagrant", "vagrant", bool(have("vagrant"))),
        ("vagrant-libvirt", "vagrant-libvirt",
         any(Path("/usr/share/rubygems-integration/all/gems").glob("vagrant-libvirt-*"))),
        ("libvirtd", "libvirt-daemon", Path("/usr/sbin/libvirtd").exists()),
        ("libvirt's qemu driver", "libvirt-daemon-driver-qemu", (libdir / "libvirt_driver_qemu.so").exists()),
        ("virsh", "libvirt-clients", bool(have("virsh"))),
        ("dnsmasq (libvirt's DHCP)", "dnsmasq-base", Path("/usr/sbin/dnsmasq").exists()),
        ("iptables (libvirt's network rules)", "iptables", Path("/usr/sbin/iptables").exists()),
        ("qemu-img (box disks)", "qemu-utils", bool(have("qemu-img"))),
        ("ssh-keygen (box keys)", "openssh-client", bool(have("ssh-keygen"))),
    ]]


def install_command(missing: List[Requirement]) -> List[str]:
    return ["apt-get", "install", "-y", "--no-install-recommends"] + sorted({r.package for r in missing})


def ensure(install: bool, echo=print, optional: bool = True) -> bool:
    """True when everything needed is present (after installing it, with `install` and root).
    With `install` (and `optional`), the optional programs the harness's own tests use are installed too."""
    missing = [r for r in requirements() if not r.present and (install and optional or not r.optional)]
    if not missing:
        return True
    command = install_command(missing)
    names = ", ".join(r.what for r in missing)
    if not install:
        echo(f"missing: {names}\ninstall with:  sudo {' '.join(command)}\n"
             f"(or run `python -m harness setup --install` as root)")
        return False
    if os.geteuid() != 0:
        echo(f"missing: {names}; --install needs root. Run:  sudo {' '.join(command)}")
        return False
    echo(f"installing {', '.join(r.package for r in missing)} ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    still = [r for r in requirements() if not r.present and not r.optional]
    if still:
        echo(f"still missing after install: {', '.join(r.what for r in still)}")
    return not still


def cmd_setup(args) -> int:
    """`python -m harness setup [--install]`: exit 0 when the host is ready, 2 (harness trouble) if not."""
    ok = ensure(install=args.install, optional=not getattr(args, "no_optional", False))
    if ok:
        print("host ready: " + ", ".join(r.what for r in requirements() if r.present))
    return 0 if ok else 2
