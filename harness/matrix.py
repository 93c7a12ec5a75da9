"""vms/matrix.toml -> cells (rewriter x kernel), selectable by name.

A kernel with `backend = "vagrant"` is booted as a Vagrant box (backends/vagrant.py) instead of by qemu
directly. Its cells are selectable by name but not part of `all` (the nightly matrix and
`tox -e kernels`): they need a libvirt daemon, which the harness does not run outside its own test.
"""

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from .images.build import KernelSpec, RewriterSpec
from .images.source import SourceSpec
from .paths import project_root

MATRIX_FILE = project_root() / "vms" / "matrix.toml"
MATRIX_ENV = "HARNESS_MATRIX"      # another matrix file (a maintainer's own rows, a test's broken row)
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
    nightly_sources: List[str] = field(default_factory=list)   # rows built from source the nightly runs

    def nightly_source_cells(self) -> List[Cell]:
        """Each nightly source row (bcc's upstream default branch, cloned by the workflow) x the qemu kernels."""
        return [Cell(self.rewriter(n), k) for n in self.nightly_sources for k in self.kernels.values()]

    def cell(self, name: str) -> Cell:
        rewriter, sep, kernel = name.partition("@")
        kernels = {**self.kernels, **self.vagrant_kernels}
        if not sep or rewriter not in self.rewriters or kernel not in kernels:
            raise MatrixError(f"unknown cell {name!r}: cells are <rewriter>@<kernel> with rewriters "
                              f"{', '.join(self.rewriters)} and kernels {', '.join(kernels)}")
        backend = "vagrant" if kernel in self.vagrant_kernels else "qemu"
        return Cell(self.rewriters[rewriter], kernels[kernel], backend)

    @property
    def packaged(self) -> List[RewriterSpec]:
        """The rows installed from Debian's packages, oldest release first."""
        return [r for r in self.rewriters.values() if not r.source]

    def all_cells(self) -> List[Cell]:
        """The packaged rows x the qemu kernels; rows built from source run when named."""
        return [Cell(r, k) for r in self.packaged for k in self.kernels.values()]

    def kernel(self, name: str) -> KernelSpec:
        kernels = {**self.kernels, **self.vagrant_kernels}
        if name not in kernels:
            raise MatrixError(f"unknown kernel {name!r}: kernels are {', '.join(kernels)}")
        return kernels[name]

    def rewriter(self, name: str) -> RewriterSpec:
        if name not in self.rewriters:
            raise MatrixError(f"unknown rewriter {name!r}: rewriters are {', '.join(self.rewriters)}")
        return self.rewriters[name]

    def from_source(self, name: str, tree: str, ref: str = "", patches=(), suite: str = "trixie") -> RewriterSpec:
        """A rewriter row built from `tree` that is not in the file (bisect steps, ad-hoc compares)."""
        return RewriterSpec(name, suite, source=SourceSpec(str(Path(tree).resolve()), ref,
                                                           tuple(str(Path(p).resolve()) for p in patches),
                                                           base_for(suite, self.rewriters)))

    def select(self, names: Optional[List[str]] = None) -> List[Cell]:
        """Named cells; 'all' for the full product; nothing for the defaults."""
        if not names:
            names = self.default_cells
        if "all" in names:
            return self.all_cells()
        return [self.cell(n) for n in names]


def load_matrix(path: Path = None) -> Matrix:
    path = path or Path(os.environ.get(MATRIX_ENV) or MATRIX_FILE)
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as e:
        raise MatrixError(f"{path}: {e}")
    try:
        packaged = {n: RewriterSpec(n, v["suite"], tuple(v["packages"])) if "packages" in v else RewriterSpec(n, v["suite"])
                    for n, v in data["rewriters"].items() if "source" not in v}
        rewriters = {n: packaged.get(n) or source_row(n, v, packaged, path) for n, v in data["rewriters"].items()}
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
                    list(defaults.get("oracle_cells", [])), by_backend["vagrant"],
                    list(defaults.get("nightly_sources", [])))
    for name in matrix.nightly_sources:
        if name not in rewriters or not rewriters[name].source:
            raise MatrixError(f"{path}: defaults: nightly_sources names {name!r}, which is no row built from source")
    for name in matrix.default_cells + matrix.oracle_cells:
        try:
            cell = matrix.cell(name)
        except MatrixError as e:
            raise MatrixError(f"{path}: defaults: {e}")
        if cell.backend != "qemu":
            raise MatrixError(f"{path}: defaults: {name} is a {cell.backend} cell; those run only when named "
                              f"with --cell (they need a libvirt daemon)")
    return matrix


SOURCE_KEYS = {"suite", "source", "ref", "patches"}


def _project_path(text: str) -> str:
    """A path in vms/matrix.toml: relative to the project, or absolute."""
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else (project_root() / path).resolve())


def base_for(suite: str, packaged: Dict[str, RewriterSpec]) -> RewriterSpec:
    """The packaged row whose root a source build of `suite` goes into (python3, pyroute2, LLVM)."""
    return next((r for r in packaged.values() if r.suite == suite and not r.source),
                RewriterSpec(f"debian-{suite}", suite))


def source_row(name: str, v: dict, packaged: Dict[str, RewriterSpec], path: Path) -> RewriterSpec:
    """`source = "PATH"` (a bcc checkout or bundle), optional `ref` and `patches`, built in `suite`."""
    unknown = set(v) - SOURCE_KEYS
    if unknown:
        raise MatrixError(f"{path}: rewriters.{name}: unknown key(s) {', '.join(sorted(unknown))} "
                          f"(a row built from source takes {', '.join(sorted(SOURCE_KEYS))})")
    patches = v.get("patches", [])
    if not isinstance(patches, list) or not all(isinstance(p, str) for p in patches):
        raise MatrixError(f"{path}: rewriters.{name}: patches must be a list of file names")
    return RewriterSpec(name, v["suite"], source=SourceSpec(_project_path(v["source"]), str(v.get("ref", "")),
                                                            tuple(_project_path(p) for p in patches),
                                                            base_for(v["suite"], packaged)))
