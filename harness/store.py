"""Run results on disk: one directory per run, JSON lines of results, one JSON per observation.

    <results dir>/<run id>/run.json                 when, what, where
    <results dir>/<run id>/results.jsonl            one Result per line, appended as cells finish
    <results dir>/<run id>/cells/<cell>/            the backend's work dir (console, guest output)
    <results dir>/<run id>/cells/<cell>/observations/<case>.json
    <results dir>/latest -> <run id>

    <results dir>/<run id>/recorded.json            history file -> size of results.jsonl recorded there

Appending as each cell finishes means an interrupted run keeps what it finished. Every other file is
written whole or not at all (a temporary file renamed into place), and a reader skips a last line that
a killed writer left half written, so a run killed at any instant stays readable.
"""

import json
import os
import platform
import secrets
import socket
import time
from dataclasses import asdict
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from . import __version__
from .classify import Result
from .observation import Observation
from .outcome import Outcome
from .paths import results_dir
from .sites import Site


def _revision() -> str:
    """The harness's git commit (with '-dirty' when the tree has changes), or 'unknown'."""
    import subprocess
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return rev or "unknown"


def result_to_json(r: Result) -> Dict:
    d = asdict(r)
    d["outcome"] = r.outcome.label
    d["raw_outcome"] = r.raw_outcome.label if r.raw_outcome else None
    return d


def result_from_json(d: Dict) -> Result:
    d = dict(d)
    d["outcome"] = Outcome.from_label(d["outcome"])
    d["raw_outcome"] = Outcome.from_label(d["raw_outcome"]) if d.get("raw_outcome") else None
    d["actual_sites"] = tuple(Site(**s) for s in d.get("actual_sites", ()))
    d["missing"] = tuple(tuple(x) for x in d.get("missing", ()))
    d["extra"] = tuple(tuple(x) for x in d.get("extra", ()))
    return Result(**d)


def write_atomic(path: Path, text: str) -> None:
    """`path` holds either its old content or `text`, never a part of it, whenever the writer dies."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def safe_name(text: str) -> str:
    return text.replace("/", "__")


class RunDir:
    def __init__(self, path: Path):
        self.path = path

    @staticmethod
    def create(argv: List[str], mode: str = "guest", root: Optional[Path] = None) -> "RunDir":
        root = root or results_dir()
        root.mkdir(parents=True, exist_ok=True)
        run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{secrets.token_hex(2)}"
        path = root / run_id
        path.mkdir()
        write_atomic(path / "run.json", json.dumps({
            "id": run_id, "started": time.time(), "argv": argv, "mode": mode,
            "harness": f"{__version__}+{_revision()}", "host": socket.gethostname(),
            "python": platform.python_version(),
        }, indent=1))
        latest = root / "latest"
        tmp = root / f".latest-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_id)
        tmp.replace(latest)
        return RunDir(path)

    def cell_dir(self, cell: str) -> Path:
        return self.path / "cells" / cell

    def record_observations(self, cell: str, observations: List[Observation]) -> None:
        obs_dir = self.cell_dir(cell) / "observations"
        obs_dir.mkdir(parents=True, exist_ok=True)
        for o in observations:
            write_atomic(obs_dir / f"{safe_name(o.case_id)}.json", json.dumps(o.to_json(), indent=1))

    def record_results(self, results: List[Result]) -> None:
        text = "".join(json.dumps(result_to_json(r)) + "\n" for r in results)
        with open(self.path / "results.jsonl", "a+b") as f:
            if f.tell() and (f.seek(f.tell() - 1), f.read(1))[1] != b"\n":
                text = "\n" + text     # a line a failed write left torn stays alone (and is skipped)
            f.write(text.encode())
            f.flush()
            os.fsync(f.fileno())

    def record_cases(self, cases) -> None:
        """Case id -> hash of its text, so history can tell a changed case from a changed rewriter."""
        path = self.path / "cases.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        known.update({c.id: {"sha": c.sha, "text": c.text} for c in cases})
        write_atomic(path, json.dumps(known, indent=1, sort_keys=True))

    def cases(self) -> Dict[str, Dict[str, str]]:
        """Case id -> {"sha", "text"} of the cases this run used."""
        try:
            return json.loads((self.path / "cases.json").read_text())
        except (OSError, ValueError):
            return {}

    def results(self, start: int = 0) -> List[Result]:
        """The results written so far, from byte `start` of results.jsonl on (a size `mark_recorded` kept);
        a line cut short (a writer killed, a full disk) is not a result."""
        try:
            with open(self.path / "results.jsonl", "rb") as f:
                f.seek(start)
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return []
        out = []
        for ln in lines:
            try:
                out.append(result_from_json(json.loads(ln)))
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def results_size(self) -> int:
        try:
            return (self.path / "results.jsonl").stat().st_size
        except OSError:
            return 0

    def _recorded(self) -> Dict[str, int]:
        try:
            return json.loads((self.path / "recorded.json").read_text())
        except (OSError, ValueError):
            return {}

    def unrecorded(self, history: Path) -> bool:
        """True when results.jsonl holds more than what was last copied into `history`."""
        return self.results_size() > self._recorded().get(str(Path(history).resolve()), -1)

    def recorded_size(self, history: Path) -> int:
        """How many bytes of results.jsonl `history` already holds."""
        return max(0, self._recorded().get(str(Path(history).resolve()), 0))

    def mark_recorded(self, history: Path, size: int) -> None:
        """`history` holds the first `size` bytes of results.jsonl."""
        known = self._recorded()
        known[str(Path(history).resolve())] = size
        write_atomic(self.path / "recorded.json", json.dumps(known, indent=1))

    def observation(self, cell: str, case_id: str) -> Optional[Observation]:
        path = self.cell_dir(cell) / "observations" / f"{safe_name(case_id)}.json"
        try:
            return Observation.from_json(json.loads(path.read_text()))
        except (OSError, ValueError):
            return None


def runs(root: Optional[Path] = None) -> Iterator[RunDir]:
    """Runs, newest first."""
    root = root or results_dir()
    if not root.exists():
        return iter(())
    dirs = sorted((p for p in root.iterdir() if p.is_dir() and (p / "run.json").exists()),
                  key=lambda p: p.name, reverse=True)
    return (RunDir(p) for p in dirs)


def last_results_for(case_id: str, root: Optional[Path] = None) -> Tuple[Optional[RunDir], List[Result]]:
    for run in runs(root):
        found = [r for r in run.results() if r.case_id == case_id]
        if found:
            return run, found
    return None, []
