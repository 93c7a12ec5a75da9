"""vms/matrix.toml -> cells (rewriter x kernel), selectable by name.

A kernel with `backend = "vagrant"` is booted as a Vagrant box (backends/vagrant.py) instead of by qemu
directly. Its cells are selectable by name but not part of `all` (the nightly matrix and
`tox -e kernels`): they need a libvirt daemon, which the harness does not run outside its own test.
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from .images.build import KernelSpec, RewriterSpec
from .paths import project_root

MATRIX_FILE = project_root() / "vms" / "matrix.toml"
BACKENDS = ("qemu", "vagrant")


class MatrixError(ValueError):
    pass


@dataclass(frozen=True)
class Cell:
    rewriter: RewriterSpec
    kernel: KernelSpec
    backend: str = "qemu"     # what boots the kernel: "qemu" (directly) or "vagrant" (as a box)

    @property
    def name(self) -> str:
        return f"{self.rewriter.name}@{self.kernel.name}"


@dataclass(frozen=True)
class Matrix:
    rewriters: Dict[str, RewriterSpec]
    kernels: Dict[str, KernelSpec]
    default_cells: List[str]
    oracle_cells: List[str] = None       # where --oracle runs by default (it costs two compiles in the guest)
    vagrant_kernels: Dict[str, KernelSpec] = field(default_factory=dict)   # backend = "vagrant", not in `all`

    def cell(self, name: str) -> Cell:
        rewriter, sep, kernel = name.partition("@")
        kernels = {**self.kernels, **self.vagrant_kernels}
        if not sep or rewriter not in self.rewriters or kernel not in kernels:
            raise MatrixError(f"unknown cell {name!r}: cells are <rewriter>@<kernel> with rewriters "
                              f"{', '.join(self.rewriters)} and kernels {', '.join(kernels)}")
        backend = "vagrant" if kernel in self.vagrant_kernels else "qemu"
        return Cell(self.rewriters[rewriter], kernels[kernel], backend)

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
    backends = {n: data["kernels"][n].get("backend", "qemu") for n in kernels}
    for n, backend in backends.items():
        if backend not in BACKENDS:
            raise MatrixError(f"{path}: kernels.{n}: backend {backend!r} is none of {', '.join(BACKENDS)}")
    defaults = data.get("defaults", {})
    by_backend = {b: {n: k for n, k in kernels.items() if backends[n] == b} for b in BACKENDS}
    matrix = Matrix(rewriters, by_backend["qemu"], list(defaults.get("cells", [])),
                    list(defaults.get("oracle_cells", [])), by_backend["vagrant"])
    for name in matrix.default_cells + matrix.oracle_cells:
        try:
            cell = matrix.cell(name)
        except MatrixError as e:
            raise MatrixError(f"{path}: defaults: {e}")
        if cell.backend != "qemu":
            raise MatrixError(f"{path}: defaults: {name} is a {cell.backend} cell; those run only when named "
                              f"with --cell (they need a libvirt daemon)")
    return matrix
