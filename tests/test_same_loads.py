"""Identical bundles loaded once in a kernel group's loading boot (backends/same_loads.py): what counts as
identical, and how the copies are filled in and merged. The real boot is in test_vm.py."""

import base64
import json
import struct

from harness.backends.same_loads import fill_in, first_of_each, load_key
from harness.backends.split import merge
from harness.observation import guest_status, read_observation

EXIT = struct.pack("<BBhi", 0x95, 0, 0, 0)
CALL = struct.pack("<BBhi", 0x85, 0, 0, 1)
HASH = {"type": 1, "key_size": 4, "value_size": 8, "max_entries": 10, "flags": 0, "name": "counts"}
ARRAY = {"type": 2, "key_size": 4, "value_size": 8, "max_entries": 1, "flags": 0, "name": "cfg"}


def _ld_map(fd):
    return struct.pack("<BBhi", 0x18, 0x11, 0, fd) + bytes(8)


def bundle(fds=(7, 9), maps=None, name="count_sched", prog_type="kprobe", body=CALL, license="GPL"):
    insns = _ld_map(fds[0]) + body + _ld_map(fds[1]) + EXIT
    maps = maps or {str(fds[0]): HASH, str(fds[1]): ARRAY}
    return {"license": license, "kern_version": 0, "tables": {}, "maps": maps,
            "functions": [{"name": name, "prog_type": prog_type, "insns": base64.b64encode(insns).decode()}]}


def test_map_fd_numbers_do_not_matter_but_which_map_is_used_where_does():
    assert load_key(bundle(fds=(7, 9))) == load_key(bundle(fds=(3, 4)))
    swapped = bundle(fds=(7, 9), maps={"7": ARRAY, "9": HASH})     # the same fds, the maps used the other way
    assert load_key(swapped) != load_key(bundle())


def test_everything_the_verifier_is_given_tells_bundles_apart():
    base = load_key(bundle())
    others = [bundle(name="other"), bundle(prog_type="tracepoint"), bundle(body=EXIT), bundle(license="Dual BSD/GPL"),
              bundle(maps={"7": HASH, "9": dict(ARRAY, max_entries=2)}), bundle(maps={"7": HASH, "9": ARRAY, "11": HASH}),
              dict(bundle(), kern_version=1)]
    keys = [load_key(b) for b in others]
    assert base not in keys and len(set(keys)) == len(keys)


def test_the_first_of_each_is_loaded_and_the_others_name_it(tmp_path):
    paths = []
    for name, b in (("c0__a", bundle()), ("c1__a", bundle(fds=(5, 6))), ("c1__b", bundle(name="other")),
                    ("c2__a", bundle(fds=(8, 9)))):
        path = tmp_path / name / "bundle.json"
        path.parent.mkdir()
        path.write_text(json.dumps(b))
        paths.append((name, path))
    load, same = first_of_each(paths)
    assert load == ["c0__a", "c1__b"]
    assert same == {"c1__a": "c0__a", "c2__a": "c0__a"}


def test_a_copy_gets_its_twins_loads_logs_and_verdict_and_merges_as_its_own_case(tmp_path):
    loaded, compiled, dest = tmp_path / "loaded", tmp_path / "compiled", tmp_path / "out"
    (loaded / "c0__a").mkdir(parents=True)
    (loaded / "c0__a/loads.json").write_text(json.dumps([{"name": "f", "loaded": False, "error": "EACCES",
                                                          "log": "load-f.log", "load_seconds": 0.4}]))
    (loaded / "c0__a/load-f.log").write_text("R1 invalid mem access 'scalar'\n")
    (loaded / "status").write_text("c0__a:exit-0:0.500\n")
    fill_in(loaded, {"c1__a": "c0__a", "c1__b": "c0__gone"}, {"c0__": "bcc-0.26@linux-6.12/"})
    assert guest_status(loaded)["c1__a"] == ("exit-0", 0.0)      # its VM time: none of its own
    assert "c1__b" not in guest_status(loaded) and not (loaded / "c1__b").exists()   # nothing to copy: missing
    view = tmp_path / "view"
    (view / "a").mkdir(parents=True)
    for name in ("loads.json", "load-f.log"):
        (view / "a" / name).write_text((loaded / "c1__a" / name).read_text())
    (view / "status").write_text("a:exit-0:0.000\n")
    fn = {"name": "f", "prog_type": "kprobe", "loaded": False, "pending": True, "error": "", "log": "load-f.log"}
    (compiled / "a").mkdir(parents=True)
    (compiled / "a/result.json").write_text(json.dumps({"id": "a", "compiled": True, "functions": [fn],
                                                         "timings": {"compile": 1.0}, "done": True}))
    (compiled / "a/bundle.json").write_text("{}")
    (compiled / "status").write_text("a:exit-0:1.0\n")
    merge(compiled, view, dest)
    result = json.loads((dest / "a/result.json").read_text())
    assert result["functions"][0]["load_same_as"] == "bcc-0.26@linux-6.12/a"
    assert result["timings"]["load_reused"] == 1.0
    obs = read_observation("a", "cell", dest / "a", "exit-0")
    (f,) = obs.functions
    assert (f.loaded, f.error, f.load_seconds) == (False, "EACCES", 0.4)
    assert "invalid mem access" in f.verifier_log
