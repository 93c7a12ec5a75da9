"""safe_tar: the same unpacking on Pythons without tarfile's filters (Debian 12's 3.11.2), where the
README's tox runs the harness. Run here with the filters switched off, so the hand-made rules are the
ones tested, whatever this Python has."""

import io
import os
import tarfile

import pytest

from harness import safe_tar


def archive(tmp_path, *members):
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def member(name, data=b"", kind=tarfile.REGTYPE, link="", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


@pytest.fixture(params=[False, True], ids=["hand-made rules", "this Python's filters"])
def filters(request, monkeypatch):
    if request.param and not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile filters")
    monkeypatch.setattr(safe_tar, "HAS_FILTERS", request.param)


@pytest.mark.parametrize("bad", [member("../escape", b"x"),
                                 member("link", kind=tarfile.SYMTYPE, link="../../etc/passwd"),
                                 member("dev", kind=tarfile.CHRTYPE)])
def test_what_leaves_the_destination_or_is_a_device_is_refused(tmp_path, filters, bad):
    dest = tmp_path / "out"
    dest.mkdir()
    with tarfile.open(archive(tmp_path, member("case/result.json", b"{}"), bad)) as tar:
        with pytest.raises(tarfile.TarError):
            safe_tar.extractall(tar, dest)
    assert (dest / "case/result.json").read_bytes() == b"{}"
    assert not (tmp_path / "escape").exists()


def test_files_unpack_without_setuid(tmp_path, filters):
    dest = tmp_path / "out"
    with tarfile.open(archive(tmp_path, member("bin/tool", b"#!/bin/sh\n", mode=0o4777))) as tar:
        safe_tar.extractall(tar, dest)
    mode = os.stat(dest / "bin/tool").st_mode
    assert (dest / "bin/tool").read_bytes() == b"#!/bin/sh\n" and not mode & 0o4000 and not mode & 0o002


def test_an_absolute_name_never_lands_at_its_path(tmp_path, filters):
    """Python's filters strip the leading slash, the hand-made rules refuse the member: either way the
    file is not written where its name points."""
    target = tmp_path / "abs-target"
    dest = tmp_path / "out"
    with tarfile.open(archive(tmp_path, member(str(target), b"x"))) as tar:
        try:
            safe_tar.extractall(tar, dest)
        except tarfile.TarError:
            pass
    assert not target.exists()
