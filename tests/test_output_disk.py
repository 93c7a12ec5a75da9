"""The guest's output disk: each finished case appended to a tar archive the host unpacks."""

import json
import sys
from pathlib import Path

from harness.backends.base import untar_results

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "harness" / "guest"))
from runner import OutputDisk  # noqa: E402


def _case(out: Path, name: str, status_line: str) -> Path:
    case = out / name
    case.mkdir()
    (case / "result.json").write_text(json.dumps({"id": name, "done": True}))
    with open(out / "status", "a") as f:
        f.write(status_line + "\n")
    return case


def test_every_committed_case_survives_a_guest_killed_before_the_end(tmp_path):
    out, device = tmp_path / "out", tmp_path / "disk"
    out.mkdir()
    device.write_bytes(b"\xa5" * (1 << 20))        # not zeros: what a reused disk may hold
    disk = OutputDisk(str(device))
    for n in range(3):
        case = _case(out, f"c{n}", f"c{n}:exit-0:1.0")
        disk.add(str(case), case.name)
        disk.add(str(out / "status"), "status")
        disk.commit()
    # killed here: no close(), and a fourth case half-written after the committed end
    (out / "c3").mkdir()
    disk.tar.fileobj.write(b"c3/result.json".ljust(512, b"\0")[:100] + b"\x01" * 50)
    disk.dev.flush()
    dest = tmp_path / "host"
    assert untar_results(device, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["c0", "c1", "c2", "status"]
    assert (dest / "status").read_text().splitlines() == ["c0:exit-0:1.0", "c1:exit-0:1.0", "c2:exit-0:1.0"]
    assert json.loads((dest / "c2" / "result.json").read_text())["done"]


def test_a_closed_disk_holds_the_files_beside_the_cases_and_costs_each_case_once(tmp_path):
    out, device = tmp_path / "out", tmp_path / "disk"
    out.mkdir()
    device.write_bytes(bytes(1 << 20))
    disk = OutputDisk(str(device))
    sizes = []
    for n in range(20):
        case = _case(out, f"c{n}", f"c{n}:exit-0:1.0")
        disk.add(str(case), case.name)
        disk.add(str(out / "status"), "status")
        disk.commit()
        sizes.append(disk.tar.offset)
    (out / "guest.json").write_text("{}")
    disk.close(str(out))
    growth = [b - a for a, b in zip(sizes, sizes[1:])]
    assert max(growth) == min(growth), growth      # appending, not rewriting: each case adds the same
    dest = tmp_path / "host"
    assert untar_results(device, dest)
    assert (dest / "guest.json").exists() and len((dest / "status").read_text().splitlines()) == 20


def test_no_disk_is_no_result(tmp_path):
    (tmp_path / "disk").write_bytes(bytes(4096))
    assert not untar_results(tmp_path / "disk", tmp_path / "host")
