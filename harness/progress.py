"""One small callback for long work; the CLI renders it with rich, pytest and tests as they like."""

from typing import Callable, Optional

# progress(task, done, total, detail): `task` names the work (an image build, a cell),
# `total` is None while unknown.
Progress = Callable[[str, int, Optional[int], str], None]


def silent(task: str, done: int, total: Optional[int], detail: str = "") -> None:
    pass
