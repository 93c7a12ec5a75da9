"""Observations already made: keyed by (case text, rewriter image, kernel image, mode, guest code), so
an unchanged case is not run again and an interrupted run's finished cases count as done. Classification
is cheap and always redone with the current harness and case. The runtime proofs (value oracle,
EXPECT-MAP) cost a compile and a boot, so their final result is kept too, keyed by the observation's key
and the harness's own code (a change to how they are judged runs them again).
Harness trouble is never cached; it says nothing about the case, so it is always retried."""

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

from .backends.base import GUEST_DIR
from .cases import Case
from .classify import Result
from .observation import Observation
from .outcome import Outcome
from .paths import cache_dir
from .store import result_from_json, result_to_json

HARNESS_DIR = Path(__file__).resolve().parent


def _files_hash(paths) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def guest_code_hash() -> str:
    return _files_hash(GUEST_DIR.glob("*"))


@lru_cache(maxsize=1)
def harness_code_hash() -> str:
    return _files_hash(HARNESS_DIR.rglob("*.py"))


def key(case: Case, rewriter_key: str, kernel_key: str, mode: str) -> str:
    # the program types are inferred by the harness, so a change there changes what the guest loads
    blob = json.dumps([case.text, case.prog_types(), rewriter_key, kernel_key, mode, guest_code_hash()])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _path(k: str) -> Path:
    return cache_dir() / "observations" / k[:2] / f"{k}.json"


def get(k: str) -> Optional[Observation]:
    try:
        return Observation.from_json(json.loads(_path(k).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def put(k: str, obs: Observation) -> None:
    """Keep an observation (whole or not at all). The cache only saves work: a full disk skips it."""
    if obs.status != "ok":
        return
    _write(k, obs.to_json())


def _write(k: str, data: dict) -> None:
    path = _path(k)
    tmp = path.with_suffix(f".tmp{id(data)}")
    try:       # whole or not at all; the cache only saves work, so a full disk skips it
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)


def proof_key(observation_key: str) -> str:
    return hashlib.sha256(f"{observation_key} {harness_code_hash()}".encode()).hexdigest()[:24]


def get_proof(k: str) -> Optional[Result]:
    try:
        return result_from_json(json.loads(_path(k).read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def put_proof(k: str, result: Result) -> None:
    if result.outcome is Outcome.HARNESS or "harness:" in result.oracle:
        return
    _write(k, result_to_json(result))
