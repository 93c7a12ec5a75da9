"""Rewriter images built from a bcc source tree: a maintainer's checkout, a ref in it, patches on top.

Three cached pieces, each keyed by what it depends on:
- the build root (per suite): an mmdebstrap root with the suite's own LLVM/clang and bcc's build
  dependencies (Debian's libbpf-dev stands in for bcc's libbpf submodule, as Debian builds it);
- the build tree (per suite, kept across builds of any tree): the exported sources and cmake's build
  directory. Files are synced by content, so only what changed gets a new mtime and make rebuilds only
  that: a one-file change in the rewriter costs one object and the link, not a full build;
- the rewriter image (per commit + patches + base): the packaged root of the same suite (for python3,
  pyroute2 and the LLVM libraries libbcc links against) with the built libbcc and Python bindings in
  place of Debian's. Split mode and guest mode use it exactly like a packaged one.

The user's tree is only read (git archive, rev-parse); a git bundle is cloned once into the cache.
"""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Tuple

from .. import safe_tar
from ..lifetime import die_with_harness
from ..paths import cache_dir, display_path
from ..progress import Progress, silent
from .debian import PrivateApt
from .store import Image, Recipe, ensure
from .tools import ImageError, ext4_disk, run_tool

BUILD_ROOT_RECIPE = 1
SOURCE_RECIPE = 1
# bcc's build dependencies (Debian's own list for bpfcc, less what only the tools and docs need).
BUILD_PACKAGES = ("build-essential", "cmake", "bison", "flex", "clang", "llvm-dev", "libclang-dev",
                  "libclang-cpp-dev", "libelf-dev", "libbpf-dev", "zlib1g-dev", "liblzma-dev", "libedit-dev",
                  "libfl-dev", "libzip-dev", "libdebuginfod-dev", "python3", "python3-setuptools")
CMAKE_FLAGS = ("-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_USE_LIBBPF_PACKAGE=ON", "-DENABLE_EXAMPLES=OFF",
               "-DENABLE_TESTS=OFF", "-DENABLE_MAN=OFF", "-DENABLE_LLVM_SHARED=ON", "-DPYTHON_CMD=python3",
               "-DENABLE_LIBDEBUGINFOD=OFF")   # as Debian builds it: the packaged root has no libdebuginfod
MULTIARCH = "usr/lib/x86_64-linux-gnu"
PY_BCC = "usr/lib/python3/dist-packages/bcc"
SYNCED = ".harness-synced"      # the files the last sync wrote into a build tree
CONFIGURED = ".harness-cmake"   # the cmake command the build directory was configured with


@dataclass(frozen=True)
class SourceSpec:
    tree: str                  # absolute path: a git checkout (or bare repository, or bundle file)
    ref: str = ""              # "" = the checkout's HEAD plus its uncommitted changes
    patches: Tuple[str, ...] = ()   # absolute paths, applied in order
    base: object = None        # the packaged RewriterSpec of the same suite whose root carries the build


@dataclass(frozen=True)
class Resolved:
    """A source spec pinned to content: what the image is keyed by and what the cell's versions name."""
    repo: str                  # the git directory git commands run against
    commit: str
    subject: str
    revision: str              # bcc's own version string for it (0.31.0, or 0.37.0+1a2b3c4d past a tag)
    dirty: str                 # sha256 of the uncommitted diff applied on top ("" when none)
    patches: Tuple[Tuple[str, str], ...]   # (path, sha256)


def _git(repo: str, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ImageError(f"git {' '.join(args)} in {repo}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def _git_bytes(repo: str, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", repo, *args], capture_output=True)
    if proc.returncode != 0:
        raise ImageError(f"git {' '.join(args)} in {repo}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def repository(tree: str) -> str:
    """The git directory for a source path; a bundle file is cloned (once, then fetched) into the cache."""
    path = Path(tree)
    if not path.exists():
        raise ImageError(f"bcc source tree {tree} does not exist")
    if path.is_file():       # a git bundle, e.g. ../shared/bcc/bcc-v0.31-to-master.bundle
        mirror = cache_dir() / "sources" / f"{path.stem}-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}.git"
        stamp = f"{path.stat().st_size}:{path.stat().st_mtime_ns}"
        mirror.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{mirror}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seen = mirror / "harness-stamp"
            if not (mirror / "HEAD").exists():
                run_tool(["git", "clone", "-q", "--mirror", str(path), str(mirror)], f"cloning bundle {tree}")
            elif not seen.exists() or seen.read_text() != stamp:      # the bundle was replaced: fetch it
                run_tool(["git", "-C", str(mirror), "fetch", "-q", str(path), "+refs/*:refs/*"], f"fetching {tree}")
            seen.write_text(stamp)
        return str(mirror)
    _git(str(path), "rev-parse", "--git-dir")
    return str(path)


@lru_cache(maxsize=256)
def resolve(source: SourceSpec) -> Resolved:
    repo = repository(source.tree)
    ref = source.ref or "HEAD"
    commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if not commit:
        raise ImageError(f"ref {ref!r} is not a commit of {source.tree}")
    dirty = ""
    if not source.ref and _git(repo, "rev-parse", "--is-bare-repository") == "false":
        diff = _git_bytes(repo, "diff", "--binary", "HEAD")
        dirty = hashlib.sha256(diff).hexdigest() if diff else ""
    patches = []
    for p in source.patches:
        try:
            patches.append((p, hashlib.sha256(Path(p).read_bytes()).hexdigest()))
        except OSError as e:
            raise ImageError(f"patch {display_path(Path(p))}: {e.strerror}")
    return Resolved(repo, commit, _git(repo, "log", "-1", "--format=%s", commit), revision(repo, commit),
                    dirty, tuple(patches))


def revision(repo: str, commit: str) -> str:
    """bcc's REVISION as its cmake computes it from git: the tag's version on a tag, else last tag + sha."""
    exact = _git(repo, "describe", "--tags", "--exact-match", commit, check=False)
    if exact:
        return exact.lstrip("v")
    last = _git(repo, "describe", "--tags", "--abbrev=0", commit, check=False)
    return f"{last.lstrip('v') or '0.0.0'}+{commit[:8]}"


def fingerprint(source: SourceSpec) -> Dict[str, object]:
    """The recipe inputs of a source-built image: everything that decides what gets built."""
    r = resolve(source)
    return {"commit": r.commit, "dirty": r.dirty, "patches": [h for _, h in r.patches],
            "base": source.base.recipe().key(), "source_recipe": SOURCE_RECIPE, "cmake": list(CMAKE_FLAGS)}


# -- the build root ---------------------------------------------------------------------------------

def build_root(suite: str, progress: Progress = silent) -> Image:
    def build(scratch: Path) -> Dict[str, object]:
        apt = PrivateApt(suite)
        llvm = next((d for d in apt.depends("llvm-dev") if re.fullmatch(r"llvm-\d+-dev", d)), "")
        # LLVM's cmake package names Polly's targets; without its -dev package cmake fails to configure.
        extra = [f"libpolly-{llvm.split('-')[1]}-dev"] if llvm else []
        progress(f"bcc build root {suite}", 0, 2, "mmdebstrap with bcc's build dependencies (1-2 minutes)")
        root = scratch / "root"
        run_tool(["mmdebstrap", "--variant=minbase", "--include=" + ",".join(BUILD_PACKAGES + tuple(extra)),
                  "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
                  "--aptopt=Acquire::Check-Valid-Until \"false\"", suite, str(root), apt.source_line()],
                 f"mmdebstrap of the {suite} build root")
        for d in ("work/src", "work/build"):
            (root / d).mkdir(parents=True, exist_ok=True)
        progress(f"bcc build root {suite}", 2, 2, "done")
        return {"suite": suite, "llvm": llvm, "packages": list(BUILD_PACKAGES) + extra}

    return ensure(Recipe("bcc-build-root", suite, {"packages": list(BUILD_PACKAGES),
                                                     "recipe": BUILD_ROOT_RECIPE}), build)


# -- the build tree ---------------------------------------------------------------------------------

def build_dir(suite: str) -> Path:
    """One build tree per suite, kept across builds of any bcc tree: files are synced by content, so
    moving between commits, patches or clones of bcc rebuilds only what differs."""
    return cache_dir() / "bcc-build" / suite


def export(r: Resolved, source: SourceSpec, dest: Path) -> None:
    """The commit's files, the checkout's uncommitted diff (no ref given), then each patch, into dest."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = dest.parent / "export.tar"
    archive.write_bytes(_git_bytes(r.repo, "archive", "--format=tar", r.commit))
    with tarfile.open(archive) as tar:
        safe_tar.extractall(tar, dest, "tar")
    archive.unlink()
    if r.dirty:
        diff = dest.parent / "uncommitted.diff"
        diff.write_bytes(_git_bytes(r.repo, "diff", "--binary", "HEAD"))
        apply_patch(diff, dest, f"the uncommitted changes of {source.tree}")
    for path, _ in r.patches:
        apply_patch(Path(path), dest, display_path(Path(path)))


def apply_patch(patch: Path, tree: Path, name: str) -> None:
    """git apply, checked first so that a patch that does not apply changes nothing and names its hunk."""
    check = subprocess.run(["git", "apply", "--check", "--verbose", str(patch.resolve())], cwd=tree,
                           capture_output=True, text=True)
    if check.returncode != 0:
        errors = [ln for ln in check.stderr.splitlines() if ln.startswith("error:") or "Hunk" in ln]
        raise ImageError(f"patch {name} does not apply: " + "; ".join(errors[:4] or [check.stderr.strip()]))
    subprocess.run(["git", "apply", str(patch.resolve())], cwd=tree, check=True, capture_output=True)


def sync_tree(src: Path, dest: Path) -> Tuple[int, int]:
    """Make dest hold src's files; files whose bytes are unchanged keep their mtime. Returns
    (files written, files removed). Only files an earlier sync wrote are ever removed: bcc's build
    generates some into its source tree (src/cc/compat/linux/bpf.h), and removing those would make
    make rebuild everything that includes them."""
    written = removed = 0
    listing = dest / SYNCED
    before = set(listing.read_text().splitlines()) if listing.exists() else set()
    seen = set()
    for dirpath, dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            s, d = Path(dirpath) / name, dest / rel / name
            seen.add(str(rel / name))
            if s.is_symlink():
                if not d.is_symlink() or os.readlink(d) != os.readlink(s):
                    if d.exists() or d.is_symlink():
                        d.unlink()
                    d.symlink_to(os.readlink(s))
                    written += 1
            elif d.is_symlink() or not d.exists() or d.read_bytes() != s.read_bytes():
                if d.is_symlink():
                    d.unlink()
                shutil.copyfile(s, d)     # a new mtime (now), never the commit's: make must see it changed
                os.chmod(d, s.stat().st_mode & 0o777)
                written += 1
    for gone in sorted(before - seen):
        path = dest / gone
        if path.exists() or path.is_symlink():
            path.unlink()
            removed += 1
    listing.write_text("\n".join(sorted(seen)) + "\n")
    return written, removed


def chroot_script(root: Path, mnt: Path, binds: Dict[str, Path], command: str) -> str:
    """Shell run inside `unshare --mount --net`: the root read-only, binds on its empty mount points,
    a private /tmp, /proc, and a /dev with only null, zero and urandom."""
    lines = ["set -e", f"M={mnt}", f"mount --bind {root} $M", "mount -o remount,bind,ro $M",
             "mount -t proc proc $M/proc", "mount -t tmpfs tmpfs $M/tmp", "mount -t tmpfs tmpfs $M/dev"]
    lines += [f"touch $M/dev/{d} && mount --bind /dev/{d} $M/dev/{d}" for d in ("null", "zero", "urandom")]
    lines += [f"mount --bind {host} $M{inside}" for inside, host in binds.items()]
    lines += ["exec chroot $M /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8 "
              f"sh -c '{command}'"]
    return "\n".join(lines) + "\n"


def run_in_root(root: Path, work: Path, binds: Dict[str, Path], command: str, log: Path,
                progress: Progress = silent, task: str = "") -> int:
    """Run `command` in `root`; its output appends to `log`; make's [ NN%] lines drive the progress bar."""
    mnt = work / "mnt"
    mnt.mkdir(parents=True, exist_ok=True)
    script = work / "run.sh"
    script.write_text(chroot_script(root, mnt, binds, command))
    with open(log, "a") as out:
        proc = subprocess.Popen(["unshare", "--mount", "--net", "--propagation", "private", "sh", str(script)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                preexec_fn=die_with_harness())
        for line in proc.stdout:
            out.write(line)
            out.flush()           # the log is what a user tails while a build runs
            m = re.match(r"\[\s*(\d+)%\]", line)
            if m and task:
                progress(task, int(m.group(1)), 100, line[m.end():].strip()[:60])
        return proc.wait()


def first_error(log: Path) -> str:
    """The compiler's (or cmake's) first error line in a build log."""
    for line in log.read_text(errors="replace").splitlines():
        if re.search(r"\berror\b:|CMake Error|Error \d+$", line):
            return line.strip()
    return "no error line in the log"


def generated_files(src: Path) -> Dict[Path, Tuple[bytes, float]]:
    """Files in a build tree's sources that no sync wrote: what bcc's own build generated there."""
    listing = src / SYNCED
    synced = set(listing.read_text().splitlines()) if listing.exists() else set()
    found = {}
    for path in src.rglob("*"):
        rel = str(path.relative_to(src))
        if path.is_file() and not path.is_symlink() and rel not in synced and rel != SYNCED:
            found[path] = (hashlib.sha256(path.read_bytes()).digest(), path.stat().st_mtime)
    return found


def keep_mtimes(before: Dict[Path, Tuple[bytes, float]]) -> None:
    for path, (digest, mtime) in before.items():
        if path.exists() and hashlib.sha256(path.read_bytes()).digest() == digest:
            os.utime(path, (mtime, mtime))


def build_libbcc(spec, r: Resolved, progress: Progress = silent) -> Tuple[Path, Dict[str, object]]:
    """Build libbcc and the Python bindings incrementally; returns (the build tree, facts)."""
    source: SourceSpec = spec.source
    task = f"bcc {spec.name} build"
    root = build_root(spec.suite, progress)
    work = build_dir(spec.suite)
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        progress(task, 0, 100, f"exporting {r.commit[:12]} ({len(r.patches)} patch(es))")
        export(r, source, work / "stage")
        written, removed = sync_tree(work / "stage", work / "src")
        shutil.rmtree(work / "stage")
        (work / "build").mkdir(exist_ok=True)
        log = work / "build.log"
        log.write_text(f"# {source.tree} {r.commit} {r.subject}\n# patches: {[p for p, _ in r.patches]}\n"
                       f"# {written} file(s) written, {removed} removed since the last build\n")
        cmake = " ".join(("cmake", "/work/src", *CMAKE_FLAGS, f"-DREVISION={r.revision}"))
        binds = {"/work/src": work / "src", "/work/build": work / "build"}
        t0 = time.monotonic()
        code = 0
        stamp = work / "build" / CONFIGURED
        if not stamp.exists() or stamp.read_text() != cmake:
            # bcc's configure step rewrites files in its source tree (compat/linux/bpf.h, included by
            # nearly everything): put back the mtime of any whose bytes it did not change.
            generated = generated_files(work / "src")
            code = run_in_root(root.path / "root", work, binds, f"cd /work/build && {cmake}", log)
            keep_mtimes(generated)
            if code == 0:
                stamp.write_text(cmake)
        if code == 0:     # make itself re-runs cmake when bcc's CMakeLists change
            code = run_in_root(root.path / "root", work, binds, f"cd /work/build && make -j{os.cpu_count() or 2} "
                               "bcc-shared", log, progress, task)
        seconds = time.monotonic() - t0
        if code != 0:
            raise ImageError(f"building bcc for {spec.name} failed: {first_error(log)} (log: {log})")
        progress(task, 100, 100, f"built in {seconds:.0f}s")
        return work, {"build_seconds": round(seconds, 1), "files_changed": written + removed,
                      "build_log": str(log), "llvm": root.manifest.get("llvm", "")}


# -- the rewriter image -----------------------------------------------------------------------------

def source_image(spec, base: Image, progress: Progress = silent) -> Image:
    """The rewriter image of a source-built row: `base`'s root with the built libbcc and bindings."""
    r = resolve(spec.source)

    def build(scratch: Path) -> Dict[str, object]:
        work, facts = build_libbcc(spec, r, progress)
        task = f"rewriter {spec.name}"
        progress(task, 0, 3, "root: the packaged root, bcc replaced")
        root = scratch / "root"
        # Hard links: the packaged root is never written; every file replaced below is unlinked first.
        run_tool(["cp", "-al", str(base.path / "root"), str(root)], "linking the packaged root")
        install_build(work, root)
        progress(task, 1, 3, "checking that python3 imports the built bcc")
        version = smoke_test(root, scratch)
        if version != r.revision:
            raise ImageError(f"the built bcc reports version {version!r}, expected {r.revision!r}")
        progress(task, 2, 3, "ext4 disk")
        ext4_disk(root, scratch / "rootfs.img", "rewriter")
        shutil.copy(work / "build.log", scratch / "build.log")
        progress(task, 3, 3, "done")
        return {"suite": spec.suite, "bcc_version": r.revision, "packages": {},
                "python": base.manifest.get("python", ""), "clang": base.manifest.get("clang", ""),
                "mirror": base.manifest.get("mirror", ""), "base": base.manifest.get("key"),
                "source": {"tree": spec.source.tree, "ref": spec.source.ref, "commit": r.commit,
                           "subject": r.subject, "dirty": r.dirty,
                           "patches": [{"file": display_path(Path(p)), "sha256": h} for p, h in r.patches]},
                "build": facts}

    return ensure(spec.recipe(), build)


def install_build(work: Path, root: Path) -> None:
    """Debian's libbcc and bcc package out, the built ones in (new files: nothing hard-linked is written)."""
    lib = root / MULTIARCH
    for old in lib.glob("libbcc.so*"):
        old.unlink()
    # The file name carries the version (libbcc.so.0.31.0+<sha>) and older builds' files stay beside it:
    # take the one the build's own soname link points at now.
    link = work / "build/src/cc/libbcc.so.0"
    built = link.resolve() if link.is_symlink() else None
    if built is None or not built.is_file():
        raise ImageError(f"the build left no libbcc.so.0 in {work / 'build/src/cc'}")
    shutil.copy2(built, lib / built.name)
    (lib / "libbcc.so.0").symlink_to(built.name)
    package = work / "build/src/python/bcc-python3/bcc"
    if not (package / "version.py").exists():
        raise ImageError(f"the build left no Python bindings in {package}")
    shutil.rmtree(root / PY_BCC)
    shutil.copytree(package, root / PY_BCC)


def smoke_test(root: Path, scratch: Path) -> str:
    """Import the built bindings in the new root (this loads libbcc.so.0 and all it links against)."""
    log = scratch / "smoke.log"
    log.write_text("")
    code = run_in_root(root, scratch / "smoke", {}, "python3 -c \"import bcc; print(bcc.__version__)\"", log)
    out = log.read_text().strip()
    if code != 0:
        raise ImageError(f"the built bcc does not import: {out.splitlines()[-1] if out else code}")
    return out.splitlines()[-1]


def describe_source(manifest: Dict[str, object]) -> str:
    s = manifest.get("source") or {}
    patches = ", ".join(p["file"] for p in s.get("patches", []))
    return f"{s.get('tree')} @ {str(s.get('commit', ''))[:12]}" + (f" + {patches}" if patches else "")


def tree_commits(tree: str, good: str, bad: str) -> List[Tuple[str, str]]:
    """(sha, subject) of the first-parent commits after `good` up to `bad`, oldest first."""
    repo = repository(tree)
    out = _git(repo, "log", "--first-parent", "--reverse", "--format=%H %s", f"{good}..{bad}")
    return [tuple(line.split(" ", 1)) if " " in line else (line, "") for line in out.splitlines()]

