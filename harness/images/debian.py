"""Debian's archive, through apt with a private configuration so the host's apt state is never touched.

The mirror is the one the host's apt already uses (or HARNESS_DEBIAN_MIRROR), so the harness follows
whatever mirror or proxy the machine is set up with.
"""

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from ..paths import cache_dir

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SOURCES_FILES = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))


class ArchiveError(RuntimeError):
    pass


def find_mirror() -> str:
    """The Debian mirror URI: HARNESS_DEBIAN_MIRROR, else the host's first non-security Debian source."""
    env = os.environ.get("HARNESS_DEBIAN_MIRROR")
    if env:
        return env.rstrip("/")
    for path in SOURCES_FILES:
        try:
            text = path.read_text()
        except OSError:
            continue
        for uri in _uris(text):
            if "security" not in uri and re.search(r"/debian/?$", uri):
                return uri.rstrip("/")
    raise ArchiveError(
        "no Debian mirror found in the host's apt sources; set HARNESS_DEBIAN_MIRROR to one "
        "(the URI you would put in a sources.list line)")


def _uris(text: str) -> List[str]:
    uris = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("URIs:"):  # deb822 .sources
            uris += line.split()[1:]
        elif line.startswith("deb "):  # one-line format, options in [...] skipped
            words = re.sub(r"\[[^\]]*\]", "", line).split()
            if len(words) >= 2:
                uris.append(words[1])
    return uris


@dataclass(frozen=True)
class Package:
    name: str
    version: str


class PrivateApt:
    """apt-get/apt-cache for one suite, with lists and caches under the harness cache."""

    def __init__(self, suite: str, mirror: str = "", root: Path = None):
        self.suite = suite
        self.mirror = mirror or find_mirror()
        self.root = root or cache_dir() / "apt" / suite
        self._updated = False

    def source_line(self) -> str:
        # Suites newer than the host's keyring are signed with keys it may lack; the archive is
        # still reached over the mirror the host trusts for its own packages.
        opts = f"[signed-by={KEYRING}]" if KEYRING.exists() and self.suite in _KEYRING_SUITES else "[trusted=yes]"
        return f"deb {opts} {self.mirror} {self.suite} main"

    def _options(self) -> List[str]:
        r = self.root
        return [
            "-o", f"Dir::Etc::SourceList={r / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State={r / 'state'}",
            "-o", f"Dir::State::Lists={r / 'lists'}",
            "-o", f"Dir::State::status={r / 'status'}",
            "-o", f"Dir::Cache={r / 'cache'}",
            "-o", "APT::Architecture=amd64",
            "-o", "Acquire::Languages=none",
            "-o", "Debug::NoLocking=1",
            "-o", "Acquire::Check-Valid-Until=false",   # mirrors of sid can lag past Valid-Until
        ]

    def update(self) -> None:
        if self._updated:
            return
        for sub in ("lists/partial", "cache/archives/partial", "state"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "status").touch()
        (self.root / "sources.list").write_text(self.source_line() + "\n")
        self._run(["apt-get", *self._options(), "update"])
        self._updated = True

    def show(self, name: str) -> Dict[str, str]:
        """The candidate version's control fields of a package."""
        self.update()
        out = self._run(["apt-cache", *self._options(), "show", "--no-all-versions", name])
        fields: Dict[str, str] = {}
        key = None
        for line in out.splitlines():
            if line[:1].isspace() and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
            elif not line.strip() and fields:
                break
        if not fields:
            raise ArchiveError(f"{self.suite}: package {name} not found")
        return fields

    def depends(self, name: str) -> List[str]:
        deps = self.show(name).get("Depends", "")
        return [re.split(r"[\s(|]", d.strip(), maxsplit=1)[0] for d in deps.split(",") if d.strip()]

    def resolve(self, name: str) -> Package:
        fields = self.show(name)
        return Package(fields["Package"], fields["Version"])

    def download(self, names: List[str], dest: Path) -> List[Path]:
        dest.mkdir(parents=True, exist_ok=True)
        self._run(["apt-get", *self._options(), "download", *names], cwd=dest)
        return sorted(dest.glob("*.deb"))

    def _run(self, argv: List[str], cwd: Path = None) -> str:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ArchiveError(f"{' '.join(argv[:1] + argv[-2:])} failed ({self.suite}):\n{proc.stderr[-2000:]}")
        return proc.stdout


# Suites whose Release files the bookworm keyring verifies; others use trusted=yes (see source_line).
_KEYRING_SUITES = {"bullseye", "bookworm", "trixie"}


def extract_deb(deb: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ArchiveError(f"dpkg-deb -x {deb.name} failed: {proc.stderr[-1000:]}")


def upstream_version(debian_version: str) -> str:
    """'0.26.0+ds-1' -> '0.26.0'; '6.1.158-1' -> '6.1.158'; an epoch is dropped."""
    v = debian_version.split(":", 1)[-1]
    v = v.rsplit("-", 1)[0] if "-" in v else v
    m = re.match(r"[0-9][0-9.]*", v)
    return m.group(0).rstrip(".") if m else v
