"""Host compiles in shards that keep every core busy.

One compile sandbox runs its cases one at a time, so a cell (or a kernel group, whose rewriters used to
compile one after another) kept one core busy while the others waited. A job's cases are dealt round-robin
into shards, each its own sandbox run, and a process-wide count of slots (one per core) bounds how many
compile at once across every cell of the run. The shards' outputs are merged into the one output dir a
single sandbox would have written, so nothing downstream can tell.

Dealt lists alone left the last shard of a run compiling alone on one core for a minute or more (cases
differ in cost by 10x). So each shard also gets the other shards' cases ("spare"): once its own are
done it takes theirs from their ends, and a case goes to the shard that claims it first, by creating a
file in a claims dir all of the job's shards share (guest/runner.py, claim).
"""

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Callable, List, Optional, Tuple

# Fewer cases than this per shard and the sandbox's own start (mounts, cgroup) is not worth a second one.
MIN_CASES_PER_SHARD = 4
SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)
# The oracle's and runtime checks' programs: a cell's next boot waits on them, and a shard of another
# cell's cases holds a slot for a minute or two, so they get slots of their own. They are few; for the
# while they compile, the cores are shared by more processes than there are cores.
PROGRAM_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)

# where a shard's sandbox has the job's claims dir
CLAIMS_MOUNT = "run/harness/claims"

# run(input dir, name, finished, claims dir or None) -> (its output dir, problem or ''); `finished(n)` hears
# its done count
RunOne = Callable[[Path, str, Callable[[int], None], Optional[Path]], Tuple[Path, str]]


def shard_count(cases: int, cores: Optional[int] = None) -> int:
    return max(1, min(cores or os.cpu_count() or 1, cases // MIN_CASES_PER_SHARD))


def deal(cases: List[dict], shards: int) -> List[List[dict]]:
    """Round-robin, so heavy neighbours (a group of cases on the same big headers) spread out."""
    return [cases[i::shards] for i in range(shards)]


def deal_grouped(cases: List[dict], shards: int, group_of: Callable[[dict], str]) -> List[List[dict]]:
    """Shards of near-equal size that split as few groups as they can: with shared headers, every shard
    a group reaches builds that group's PCH again. Largest groups first, each into the emptiest shard,
    a group larger than that shard's room split at the room."""
    groups: dict = {}
    for case in cases:
        groups.setdefault(group_of(case), []).append(case)
    room = -(-len(cases) // shards)
    parts: List[List[dict]] = [[] for _ in range(shards)]
    for members in sorted(groups.values(), key=len, reverse=True):
        while members:
            part = min(parts, key=len)
            take = max(1, room - len(part))
            part += members[:take]
            members = members[take:]
    return [p for p in parts if p]


def in_shards(inp: Path, work: Path, name: str, run: RunOne,
              finished: Callable[[int], None] = lambda n: None,
              group_of: Optional[Callable[[dict], str]] = None,
              slots: Optional[threading.BoundedSemaphore] = None) -> Tuple[Path, str]:
    """Run the compile job of `inp` in shards; returns (work/<name>-out, the shards' problems).
    group_of: keep cases of one group together where balance allows (deal_grouped); slots: SLOTS
    (cases) or PROGRAM_SLOTS (the runtime modes' programs)."""
    slots = slots or SLOTS
    job = json.loads((inp / "job.json").read_text())
    count = shard_count(len(job["cases"]))
    parts = deal_grouped(job["cases"], count, group_of) if group_of else deal(job["cases"], count)
    if len(parts) == 1:
        with slots:
            return run(inp, name, finished, None)
    done, lock = [0] * len(parts), threading.Lock()
    outcomes: List[Tuple[Path, str]] = [None] * len(parts)
    claims = work / f"{name}-claims"
    if claims.exists():
        shutil.rmtree(claims)
    claims.mkdir(parents=True)

    def one(k: int) -> None:
        shard_in = work / f"{name}-in-{k}"
        if shard_in.exists():
            shutil.rmtree(shard_in)
        shutil.copytree(inp, shard_in, copy_function=link_or_copy)
        # the next shard's cases first, so that thieves start on different shards
        spare = [parts[(k + j) % len(parts)] for j in range(1, len(parts))]
        (shard_in / "job.json").write_text(json.dumps(dict(job, cases=parts[k], spare=spare,
                                                           claims="/" + CLAIMS_MOUNT), indent=1))

        def heard(n: int) -> None:
            with lock:
                done[k] = n
                finished(sum(done))
        try:
            with slots:
                outcomes[k] = run(shard_in, f"{name}-{k}", heard, claims)
        except Exception as e:      # one shard's crash is its cases' trouble (no status), not the others'
            outcomes[k] = (work / f"{name}-{k}-out", f"compile shard {k} crashed: {e!r}")
    threads = [threading.Thread(target=one, args=(k,), name=f"{name}-{k}") for k in range(len(parts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    problems = list(dict.fromkeys(p for _, p in outcomes if p))    # "interrupted" once, not per shard
    shutil.rmtree(claims)
    return merge_shards([o for o, _ in outcomes], work / f"{name}-out"), "; ".join(problems)


def link_or_copy(src, dst) -> None:
    """A PCH (shared_headers.py) is large and never written again: linked, not copied. Anything else
    is copied, since a shard rewrites its own job.json."""
    if str(src).endswith(".pch"):
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copy2(src, dst)


def merge_shards(outs: List[Path], dest: Path) -> Path:
    """Case dirs moved into `dest`, status files joined (each case is in exactly one shard); the PCHs
    shards kept (a dir of files) joined too, the first of a set kept."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    status = []
    for out in outs:
        if not out.is_dir():
            continue
        for entry in sorted(out.iterdir()):
            if entry.is_dir() and (dest / entry.name).is_dir():
                for part in entry.iterdir():
                    if not (dest / entry.name / part.name).exists():
                        shutil.move(str(part), dest / entry.name / part.name)
            elif entry.is_dir():
                shutil.move(str(entry), dest / entry.name)
            elif entry.name == "status":
                status.append(entry.read_text())
            elif not (dest / entry.name).exists():     # guest.json: the same from every shard
                shutil.copy(entry, dest / entry.name)
        shutil.rmtree(out)
    (dest / "status").write_text("".join(status))
    return dest
