"""The image cache: one directory per recipe, named by a hash of everything the recipe depends on.

A directory is complete only once its manifest.json exists; builds happen in a temporary sibling and
are renamed into place, so an interrupted build never leaves a half image that looks finished.
"""

import fcntl
import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from ..paths import cache_dir

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Recipe:
    kind: str            # "rewriter" | "kernel"
    name: str            # e.g. "bookworm"
    inputs: Dict[str, object]

    def key(self) -> str:
        blob = json.dumps({"kind": self.kind, "name": self.name, "inputs": self.inputs}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def dirname(self) -> str:
        return f"{self.kind}-{self.name}-{self.key()}"


@dataclass(frozen=True)
class Image:
    path: Path
    manifest: Dict[str, object] = field(default_factory=dict)

    def file(self, name: str) -> Path:
        return self.path / name


def images_root() -> Path:
    return cache_dir() / "images"


def lookup(recipe: Recipe) -> Optional[Image]:
    path = images_root() / recipe.dirname()
    manifest = path / MANIFEST
    if manifest.exists():
        return Image(path, json.loads(manifest.read_text()))
    return None


def ensure(recipe: Recipe, build: Callable[[Path], Dict[str, object]]) -> Image:
    """The cached image for `recipe`, built first if needed by `build(scratch) -> manifest facts`.

    Two runs asking for the same image at once build it once: the second waits on the lock and then
    finds it.
    """
    root = images_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{recipe.dirname()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = lookup(recipe)
        if found:
            return found
        final = root / recipe.dirname()
        scratch = root / f".{recipe.dirname()}.tmp"
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir()
        try:
            facts = build(scratch)
            data = {"recipe": asdict(recipe), "key": recipe.key(), **facts}
            (scratch / MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True))
            if final.exists():
                shutil.rmtree(final)
            scratch.rename(final)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
    return lookup(recipe)


def list_images() -> List[Image]:
    root = images_root()
    if not root.exists():
        return []
    return [Image(p, json.loads((p / MANIFEST).read_text()))
            for p in sorted(root.iterdir()) if (p / MANIFEST).exists()]
