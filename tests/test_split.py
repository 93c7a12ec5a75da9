"""Split mode's pure parts: the sandbox script, the merge of compile and load results, map fd patching."""

import json
import struct
from pathlib import Path

from harness.backends.split import merge, sandbox_script
from harness.guest.bpfsys import map_fds, patch_map_fds
from harness.images.store import Image
from harness.observation import guest_status, read_observation


def test_sandbox_script_gives_bcc_the_target_kernel(tmp_path):
    kernel = Image(tmp_path / "kernel", {"kver": "6.1.0-50-cloud-amd64"})
    pers = Image(tmp_path / "pers", {})
    (tmp_path / "pers/personality/btf").mkdir(parents=True)
    (tmp_path / "pers/personality/btf/vmlinux").write_bytes(b"BTF")
    script = sandbox_script(Path("/img/root"), Path("/w/mnt"), Path("/w/in"), Path("/w/out"), kernel, pers)
    lines = script.splitlines()
    assert "mount -o remount,bind,ro $M" in lines
    assert f"mount --bind {tmp_path}/kernel/tree/lib/modules/6.1.0-50-cloud-amd64 $M/lib/modules/$(uname -r)" in lines
    assert f"mount --bind {tmp_path}/pers/personality/kallsyms $M/proc/kallsyms" in lines
    assert f"mount --bind {tmp_path}/pers/personality/tracing $M/sys/kernel/debug/tracing" in lines
    assert f"mount --bind {tmp_path}/pers/personality/btf/vmlinux $M/sys/kernel/btf/vmlinux" in lines
    assert lines[-1].startswith("exec chroot $M ")


def _ld_map(fd):
    return struct.pack("<BBhi", 0x18, 0x11, 0, fd) + bytes(8)


def test_map_fds_are_found_and_patched():
    call = struct.pack("<BBhi", 0x85, 0, 0, 1)
    insns = _ld_map(7) + call + _ld_map(9) + _ld_map(7)
    assert map_fds(insns) == [7, 9]
    patched = patch_map_fds(insns, {7: 3, 9: 4})
    assert map_fds(patched) == [3, 4]
    assert patched[16:24] == call


def _case(root: Path, name: str, result: dict, files: dict):
    d = root / name
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps(result))
    for k, v in files.items():
        (d / k).write_text(v)


def test_merge_makes_guest_mode_files(tmp_path):
    compiled, loaded, dest = tmp_path / "c", tmp_path / "l", tmp_path / "out"
    fn = {"name": "f", "prog_type": "kprobe", "loaded": False, "pending": True, "error": "",
          "log": "load-f.log", "insns": 12, "probe_reads": {"bpf_probe_read": 1}}
    _case(compiled, "a", {"id": "a", "compiled": True, "error": "", "functions": [fn], "timings": {},
                          "done": True}, {"bundle.json": "{}", "compile.log": "x"})
    _case(compiled, "b", {"id": "b", "compiled": False, "error": "Exception: failed", "functions": [],
                          "timings": {}}, {"compile.log": "main.c:1:1: error: boom"})
    (compiled / "status").write_text("a:exit-0:1.0\nb:exit-0:0.5\n")
    (loaded / "a").mkdir(parents=True)
    (loaded / "a/loads.json").write_text(json.dumps([{"name": "f", "loaded": False, "error": "EACCES",
                                                       "log": "load-f.log", "load_seconds": 0.01}]))
    (loaded / "a/load-f.log").write_text("R1 invalid mem access 'scalar'\n")
    (loaded / "status").write_text("a:exit-0:0.2\n")
    merge(compiled, loaded, dest)
    status = guest_status(dest)
    assert status == {"a": ("exit-0", 1.0), "b": ("exit-0", 0.5)}
    obs = read_observation("a", "cell", dest / "a", "exit-0")
    assert obs.status == "ok" and obs.compiled
    (f,) = obs.functions
    assert (f.loaded, f.error, f.insns, f.probe_read_calls) == (False, "EACCES", 12, 1)
    assert "scalar" in f.verifier_log
    assert read_observation("b", "cell", dest / "b", "exit-0").compile_error == "Exception: failed"


def test_merge_marks_a_lost_load_as_harness_trouble(tmp_path):
    compiled, loaded, dest = tmp_path / "c", tmp_path / "l", tmp_path / "out"
    _case(compiled, "a", {"id": "a", "compiled": True, "functions": [], "timings": {}, "done": True},
          {"bundle.json": "{}"})
    (compiled / "status").write_text("a:exit-0:1.0\n")
    loaded.mkdir()
    merge(compiled, loaded, dest)
    obs = read_observation("a", "cell", dest / "a", guest_status(dest)["a"][0])
    assert obs.status == "missing" and "loading guest wrote no status" in obs.detail
    obs = read_observation("a", "cell", dest / "a", guest_status(dest)["a"][0], "guest-crashed: loading VM: ...")
    assert (obs.status, obs.detail) == ("vm-failed", "guest-crashed: loading VM: ...")     # the boot's own words


def test_personality_capture_reads_zero_sized_virtual_files(tmp_path):
    """tracefs reports size 0 for format files; the capture must read them, not trust stat()."""
    import tarfile
    from harness.guest.mode_capture import _add_file
    src = Path("/proc/self/status")           # procfs: stat() says 0 bytes, reading gives content
    assert src.stat().st_size == 0
    with tarfile.open(tmp_path / "p.tar", "w") as tar:
        _add_file(tar, str(src), "status")
    with tarfile.open(tmp_path / "p.tar") as tar:
        assert b"Name:" in tar.extractfile("status").read()


def test_job_view_takes_one_jobs_cases_out_of_a_shared_loading_boot(tmp_path):
    from harness.backends.split import _job_view
    loaded = tmp_path / "loaded"
    for name in ("c0__seed__a", "c1__seed__a", "c1__seed__b"):
        (loaded / name).mkdir(parents=True)
        (loaded / name / "loads.json").write_text(name)
    (loaded / "status").write_text("c0__seed__a:exit-0:0.5\nc1__seed__a:exit-0:0.6\nc1__seed__b:timeout-120:120.0\n")
    view = _job_view(loaded, "c1__", tmp_path / "view")
    assert sorted(p.name for p in view.iterdir() if p.is_dir()) == ["seed__a", "seed__b"]
    assert (view / "seed__a" / "loads.json").read_text() == "c1__seed__a"
    assert guest_status(view) == {"seed__a": ("exit-0", 0.6), "seed__b": ("timeout-120", 120.0)}


def test_a_compile_sees_only_the_kallsyms_lines_bcc_looks_up(tmp_path):
    """compile_kallsyms.py: bcc's rewriter asks kallsyms two questions; the compile's file answers them the
    same way (the lines kept as they are, module symbols too) and the sandbox shows it as /proc/kallsyms."""
    from harness.backends.compile_kallsyms import write_compile_kallsyms
    full = tmp_path / "kallsyms"
    full.write_bytes(b"ffffffff81000000 T _stext\n"
                     b"ffffffff812a0000 T bpf_probe_read_kernel\n"
                     b"ffffffff812a0100 t bpf_probe_read_kernel_str\n"
                     b"ffffffff812a0200 T bpf_probe_read_user\t[some_module]\n"
                     b"ffffffff812a0300 D bpf_probe_read_kernel_proto\n")
    small = write_compile_kallsyms(full, tmp_path / "job" / "kallsyms-compile")
    assert small.read_bytes() == (b"ffffffff812a0000 T bpf_probe_read_kernel\n"
                                  b"ffffffff812a0200 T bpf_probe_read_user\t[some_module]\n")
    kernel = Image(tmp_path / "kernel", {"kver": "6.1.0-50-cloud-amd64"})
    pers = Image(tmp_path / "pers", {})
    script = sandbox_script(Path("/img/root"), Path("/w/mnt"), Path("/w/in"), Path("/w/out"), kernel, pers,
                            kallsyms=small)
    assert f"mount --bind {small} $M/proc/kallsyms" in script.splitlines()
