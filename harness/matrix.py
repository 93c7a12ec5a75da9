"""vms/matrix.toml -> cells (rewriter x kernel), selectable by name."""

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from .images.build import KernelSpec, RewriterSpec
from .paths import project_root

MATRIX_FILE = project_root() / "vms" / "matrix.toml"


class MatrixError(ValueError):
    pass


@dataclass(frozen=True)
class Cell:
    rewriter: RewriterSpec
    kernel: KernelSpec

    @property
    def name(self) -> str:
        return f"{self.rewriter.name}@{self.kernel.name}"


@dataclass(frozen=True)
class Matrix:
    rewriters: Dict[str, RewriterSpec]
    kernels: Dict[str, KernelSpec]
    default_cells: List[str]
    oracle_cells: List[str] = None       # where --oracle runs by default (it costs two compiles in the guest)

    def cell(self, name: str) -> Cell:
        rewriter, sep, kernel = name.partition("@")
        if not sep or rewriter not in self.rewriters or kernel not in self.kernels:
            raise MatrixError(f"unknown cell {name!r}: cells are <rewriter>@<kernel> with rewriters "
                              f"{', '.join(self.rewriters)} and kernels {', '.join(self.kernels)}")
        return Cell(self.rewriters[rewriter], self.kernels[kernel])

    def all_cells(self) -> List[Cell]:
        return [Cell(r, k) for r in self.rewriters.values() for k in self.kernels.values()]

    def select(self, names: Optional[List[str]] = None) -> List[Cell]:
        """Named cells; 'all' for the full product; nothing for the defaults."""
        if not names:
            names = self.default_cells
        if "all" in names:
            return self.all_cells()
        return [self.cell(n) for n in names]


def load_matrix(path: Path = MATRIX_FILE) -> Matrix:
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as e:
        raise MatrixError(f"{path}: {e}")
    try:
        rewriters = {n: RewriterSpec(n, v["suite"], tuple(v["packages"])) if "packages" in v else RewriterSpec(n, v["suite"])
                     for n, v in data["rewriters"].items()}
        kernels = {n: KernelSpec(n, v["suite"], v.get("package", "linux-image-cloud-amd64"))
                   for n, v in data["kernels"].items()}
    except KeyError as e:
        raise MatrixError(f"{path}: missing key {e}")
    defaults = data.get("defaults", {})
    matrix = Matrix(rewriters, kernels, list(defaults.get("cells", [])), list(defaults.get("oracle_cells", [])))
    for name in matrix.default_cells + matrix.oracle_cells:
        matrix.cell(name)
    return matrix
