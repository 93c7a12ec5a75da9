"""Benchmark: the guest's output disk, whole-archive rewrite per case (before) against appending each
finished case (harness/guest/runner.py OutputDisk), from one run.

    python bench/bench_output_disk.py [--cases N] [--from RUN_CELL_OUT_DIR]

Cases are copies of real case output dirs (a run's cells/<cell>/out, default: the newest run under the
harness's state dir; a synthetic 20 KB case when there is none). Prints seconds and bytes written for
each way, and their ratio. Host figures; a TCG guest is slower at both by about the same factor.
"""

import argparse
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "harness" / "guest"))
sys.path.insert(0, str(ROOT))

from runner import OutputDisk  # noqa: E402
from harness.paths import results_dir  # noqa: E402


def sample_cases(source: Path):
    dirs = [d for d in sorted(source.iterdir()) if d.is_dir()] if source else []
    return dirs


def newest_out() -> Path:
    runs = sorted(results_dir().glob("*/cells/*/out"), key=lambda p: p.stat().st_mtime)
    return runs[-1] if runs else None


def whole_archive(out: Path, device: Path) -> int:
    with open(device, "r+b") as dev:
        with tarfile.open(fileobj=dev, mode="w") as tar:
            tar.add(out, arcname=".")
        dev.flush()
        return dev.tell()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--from", dest="source", type=Path, default=None)
    args = ap.parse_args()
    source = args.source or newest_out()
    samples = sample_cases(source) if source else []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not samples:
            synthetic = tmp / "synthetic"
            synthetic.mkdir()
            (synthetic / "compile.log").write_bytes(b"x" * 20000)
            samples = [synthetic]
        figures = {}
        for way in ("whole archive per case", "append each case"):
            out, device = tmp / way.replace(" ", "-"), tmp / (way.replace(" ", "-") + ".disk")
            out.mkdir()
            device.write_bytes(b"")
            device.touch()
            disk = OutputDisk(str(device)) if way.startswith("append") else None
            written, t0 = 0, time.monotonic()
            for n in range(args.cases):
                case = out / f"case{n}"
                shutil.copytree(samples[n % len(samples)], case)
                with open(out / "status", "a") as f:
                    f.write(f"case{n}:exit-0:1.0\n")
                if disk:
                    before = disk.tar.offset
                    disk.add(str(case), case.name)
                    disk.add(str(out / "status"), "status")
                    disk.commit()
                    written += disk.tar.offset - before
                else:
                    written += whole_archive(out, device)
            if disk:
                disk.close(str(out))
            figures[way] = (time.monotonic() - t0, written)
        print(f"{args.cases} cases, each a copy of one of {len(samples)} real case dirs from {source}")
        for way, (seconds, written) in figures.items():
            print(f"  {way:24} {seconds:7.2f} s  {written / 1e6:9.1f} MB written")
        (a, wa), (b, wb) = figures.values()
        print(f"  ratio (before / after): {a / b:.1f}x time, {wa / max(wb, 1):.1f}x bytes")


if __name__ == "__main__":
    main()
