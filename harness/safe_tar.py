"""Unpacking tar archives the same way on every Python the harness supports.

tarfile's extraction filters ("data", "tar") came with Python 3.12 and 3.11.4. Debian 12's python3 is
3.11.2, where `filter=` raises TypeError, and that is the Python the README's `tox` uses there. Where the
filters are missing, the rules that matter here are applied by hand: no absolute name, no `..`, no link
leaving the destination, for "data" no link or device at all, and no setuid, setgid or sticky bit.
"""

import os
import stat
import tarfile
from pathlib import Path, PurePosixPath

HAS_FILTERS = hasattr(tarfile, "data_filter")


def refused(member: tarfile.TarInfo, dest: Path, kind: str) -> str:
    """Why the filter `kind` would refuse this member ('' when it would not)."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        return f"{member.name}: outside the destination"
    if member.issym() or member.islnk():
        if kind == "data" and member.issym() and PurePosixPath(member.linkname).is_absolute():
            return f"{member.name}: an absolute link"
        base = name.parent if member.issym() else PurePosixPath(".")
        target = os.path.normpath(os.path.join(dest, base, member.linkname))
        if not target.startswith(os.path.normpath(dest) + os.sep):
            return f"{member.name}: a link leaving the destination"
    if kind == "data" and (member.ischr() or member.isblk() or member.isfifo()):
        return f"{member.name}: a device or pipe"
    return ""


def extract(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, kind: str = "data") -> None:
    if HAS_FILTERS:
        tar.extract(member, dest, filter=kind)
        return
    why = refused(member, Path(dest), kind)
    if why:
        raise tarfile.TarError(f"refused to unpack {why}")
    tar.extract(member, dest)
    path = Path(dest) / member.name
    if member.isfile() and not path.is_symlink():
        mode = path.stat().st_mode
        path.chmod(stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWGRP | stat.S_IWOTH))


def extractall(tar: tarfile.TarFile, dest: Path, kind: str = "data") -> None:
    if HAS_FILTERS:
        tar.extractall(dest, filter=kind)
        return
    for member in tar:
        extract(tar, member, dest, kind)
