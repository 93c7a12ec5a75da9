"""Where the harness keeps its caches and results (XDG directories, overridable)."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """Images and downloads: large, rebuildable, shared by all checkouts of one user."""
    base = os.environ.get("HARNESS_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(xdg) / "bcc-harness"


def results_dir() -> Path:
    """Run results: small, kept, read by `show` and later runs."""
    base = os.environ.get("HARNESS_RESULTS_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(xdg) / "bcc-harness" / "runs"


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def display_path(path: Path) -> str:
    """A path as people want to read it in messages: relative to the project when inside it.
    os.path.realpath, unlike Path.resolve, does not raise on a symlink loop (a bad case file)."""
    try:
        return str(Path(os.path.realpath(path)).relative_to(project_root()))
    except ValueError:
        return str(path)
