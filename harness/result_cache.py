"""Observations already made: keyed by (case text, rewriter image, kernel image, mode, guest code), so
an unchanged case is not run again and an interrupted run's finished cases count as done. Only the
observation is kept: classification is cheap and always redone with the current harness and case.
Harness trouble is never cached; it says nothing about the case, so it is always retried."""

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

from .backends.base import GUEST_DIR
from .cases import Case
from .observation import Observation
from .paths import cache_dir


@lru_cache(maxsize=1)
def guest_code_hash() -> str:
    h = hashlib.sha256()
    for path in sorted(GUEST_DIR.glob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


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
    if obs.status != "ok":
        return
    path = _path(k)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{id(obs)}")
    tmp.write_text(json.dumps(obs.to_json()))
    tmp.replace(path)
