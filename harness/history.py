"""The results history: one SQLite file (WAL; safe for two runs writing at once) with every run, the
exact packages of every cell, every result, and the artifacts behind them (rewritten text, compile
logs, verifier logs, serial consoles) stored zlib-compressed and deduplicated by content hash.

A regression is a case x cell whose class got worse than in the most recent earlier run of the same case
x cell; a fix is the reverse; a change is flaky when neither the case text nor the cell's packages
changed. Harness trouble (HARNESS, INVALID) is never a regression or a fix: it says nothing of bcc.
"""

import hashlib
import json
import os
import sqlite3
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from .classify import Result
from .observation import Observation
from .outcome import Outcome
from .paths import results_dir

SCHEMA_NAME = "bcc-rewriter-harness-history"
SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
    id TEXT PRIMARY KEY, started REAL, harness TEXT, host TEXT, mode TEXT, argv TEXT);
CREATE TABLE IF NOT EXISTS cells(
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, bcc TEXT, kernel TEXT, packages TEXT NOT NULL,
    UNIQUE(name, packages));
CREATE TABLE IF NOT EXISTS artifacts(sha TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS results(
    run_id TEXT NOT NULL REFERENCES runs(id), cell_id INTEGER NOT NULL REFERENCES cells(id),
    case_id TEXT NOT NULL, case_sha TEXT, outcome TEXT NOT NULL, raw_outcome TEXT, message TEXT,
    details TEXT, expected TEXT, actual TEXT, missing TEXT, extra TEXT, verifier_category TEXT,
    log_line TEXT, probe_reads INTEGER, insns INTEGER, compile_s REAL, load_s REAL, oracle TEXT,
    artifacts TEXT, functions TEXT, PRIMARY KEY(run_id, cell_id, case_id));
CREATE INDEX IF NOT EXISTS results_case_cell ON results(case_id, cell_id);
"""
GOOD, ENVIRONMENT, BAD = 0, 1, 2


class HistoryError(RuntimeError):
    pass


def default_path() -> Path:
    env = os.environ.get("HARNESS_HISTORY")
    return Path(env) if env else results_dir().parent / "history.db"


def rank(outcome: Outcome) -> Optional[int]:
    if outcome in (Outcome.HARNESS, Outcome.INVALID):
        return None
    if outcome in (Outcome.PASS, Outcome.XFAIL, Outcome.UNSUPPORTED):
        return GOOD
    if outcome in (Outcome.ENV, Outcome.REJECTED):     # neither says anything of the rewriter
        return ENVIRONMENT
    return BAD


@dataclass(frozen=True)
class Row:
    run_id: str
    started: float
    harness: str
    cell: str
    bcc: str
    kernel: str
    packages: str
    case_id: str
    case_sha: str
    outcome: Outcome
    raw_outcome: Optional[Outcome]
    message: str
    details: str
    probe_reads: int
    insns: int
    verifier_category: str
    oracle: str
    artifacts: Dict[str, str]
    missing: list
    extra: list
    actual: list
    functions: list


@dataclass(frozen=True)
class Change:
    case_id: str
    cell: str
    before: Outcome
    after: Outcome
    kind: str          # "regression" | "fix" | "change"
    cause: str         # "case changed" | "packages changed: ..." | "flaky (nothing changed)"
    before_run: str
    after_run: str


class History:
    def __init__(self, path: Optional[Path] = None):
        self.path = Path(path or default_path())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stored: set = set()     # artifact shas this connection knows are in the file
        try:
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._opening(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
            self._opening(self._check_or_create)
        except sqlite3.DatabaseError as e:
            raise HistoryError(f"{self.path}: not a harness history database ({e}); move it away or "
                               f"point HARNESS_HISTORY elsewhere") from None

    @staticmethod
    def _opening(step, tries: int = 100) -> None:
        """Turning a new file to WAL takes its exclusive lock, and SQLite answers "database is locked"
        at once, without its busy timeout, to a second run doing the same: wait and try again."""
        for attempt in range(tries):
            try:
                step()
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == tries - 1:
                    raise
                time.sleep(0.05)

    def _check_or_create(self) -> None:
        # One immediate transaction: two runs opening a new file at once create it exactly once.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._check_or_create_locked()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _check_or_create_locked(self) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise HistoryError(f"{self.path}: an SQLite file of something else (tables: "
                               f"{', '.join(sorted(tables))}); refusing to touch it")
        if "meta" in tables:
            meta = dict(self.db.execute("SELECT key, value FROM meta"))
            if meta.get("schema") != SCHEMA_NAME:
                raise HistoryError(f"{self.path}: not a harness history database (schema {meta.get('schema')!r})")
            if meta.get("version") != SCHEMA_VERSION:
                raise HistoryError(f"{self.path}: history schema version {meta.get('version')}, this harness "
                                   f"reads {SCHEMA_VERSION}")
            return
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self.db.execute(statement)
        self.db.executemany("INSERT INTO meta VALUES (?, ?)", [("schema", SCHEMA_NAME), ("version", SCHEMA_VERSION)])

    def close(self) -> None:
        self.db.close()

    # -- writing ---------------------------------------------------------------------------------
    def _artifact(self, text: Optional[str]) -> Optional[str]:
        if not text:
            return None
        raw = text.encode()
        sha = hashlib.sha256(raw).hexdigest()[:32]
        # a cell's console and a case's text come once per result: compress each only once
        if sha not in self._stored and \
                not self.db.execute("SELECT 1 FROM artifacts WHERE sha=?", (sha,)).fetchone():
            self.db.execute("INSERT INTO artifacts VALUES (?, ?)", (sha, zlib.compress(raw, 6)))
        self._stored.add(sha)
        return sha

    def artifact(self, sha: Optional[str]) -> str:
        if not sha:
            return ""
        row = self.db.execute("SELECT data FROM artifacts WHERE sha=?", (sha,)).fetchone()
        return zlib.decompress(row[0]).decode(errors="replace") if row else ""

    def add_run(self, run_id: str, info: Dict) -> None:
        self.db.execute("INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                        (run_id, info.get("started"), info.get("harness"), info.get("host"),
                         info.get("mode"), json.dumps(info.get("argv", []))))

    def _cell(self, name: str, versions: Dict[str, str]) -> int:
        packages = json.dumps({k: versions.get(k, "") for k in sorted(versions)}, sort_keys=True)
        self.db.execute("INSERT OR IGNORE INTO cells(name, bcc, kernel, packages) VALUES (?, ?, ?, ?)",
                        (name, versions.get("bcc", ""), versions.get("kernel", ""), packages))
        return self.db.execute("SELECT id FROM cells WHERE name=? AND packages=?", (name, packages)).fetchone()[0]

    def add_results(self, run_id: str, results: Iterable[Result], observations: Dict[Tuple[str, str], Observation],
                    cases: Dict[str, Dict[str, str]], consoles: Dict[str, str] = None) -> int:
        """Insert results (idempotent: a result already stored for run x cell x case is kept)."""
        count = 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for r in results:
                cell_id = self._cell(r.cell, r.versions)
                obs = observations.get((r.cell, r.case_id))
                case = cases.get(r.case_id, {})
                arts = {"case": self._artifact(case.get("text"))}
                if obs:
                    arts.update(rewritten=self._artifact(obs.rewritten),
                                compile_log=self._artifact(obs.compile_log))
                    for fn in obs.functions:
                        arts[f"verifier:{fn.name}"] = self._artifact(fn.verifier_log)
                if consoles and consoles.get(r.cell):
                    arts["console"] = self._artifact(consoles[r.cell])
                compile_s = obs.timings.get("compile") if obs else None
                load_s = sum(f.load_seconds or 0 for f in obs.functions) if obs else None
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (run_id, cell_id, r.case_id, case.get("sha", ""), r.outcome.label,
                     r.raw_outcome.label if r.raw_outcome else None, r.message, r.details,
                     json.dumps(_expected(r)), json.dumps([[s.line, s.col, s.text, s.form, s.rewritten_line]
                                                 for s in r.actual_sites]),
                     json.dumps(list(r.missing)), json.dumps(list(r.extra)), r.verifier_category, r.log_line,
                     r.probe_reads, r.insns, compile_s, load_s, r.oracle,
                     json.dumps({k: v for k, v in arts.items() if v}),
                     json.dumps([{"name": f.name, "loaded": f.loaded, "insns": f.insns,
                                  "probe_reads": f.probe_read_calls} for f in obs.functions] if obs else [])))
                count += cur.rowcount
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self._stored.clear()     # what this transaction inserted is gone again
            raise
        return count

    # -- reading ---------------------------------------------------------------------------------
    def runs(self) -> List[Tuple[str, float]]:
        return list(self.db.execute("SELECT id, started FROM runs ORDER BY started, id"))

    def resolve_run(self, ref: str) -> str:
        """A run id, 'latest', 'previous', or an unambiguous prefix."""
        ids = [r[0] for r in self.runs()]
        if not ids:
            raise HistoryError(f"{self.path}: no runs recorded yet")
        if ref == "latest":
            return ids[-1]
        if ref == "previous":
            if len(ids) < 2:
                raise HistoryError("only one run recorded")
            return ids[-2]
        matches = [i for i in ids if i.startswith(ref)]
        if len(matches) != 1:
            raise HistoryError(f"run {ref!r} matches {len(matches)} runs")
        return matches[0]

    def rows(self, run_id: Optional[str] = None) -> List[Row]:
        sql = ("SELECT r.run_id, runs.started, runs.harness, c.name, c.bcc, c.kernel, c.packages, r.case_id, r.case_sha, "
               "r.outcome, r.raw_outcome, r.message, r.details, r.probe_reads, r.insns, r.verifier_category, "
               "r.oracle, r.artifacts, r.missing, r.extra, r.actual, r.functions FROM results r JOIN cells c ON c.id = r.cell_id "
               "JOIN runs ON runs.id = r.run_id")
        args: tuple = ()
        if run_id:
            sql += " WHERE r.run_id = ?"
            args = (run_id,)
        sql += " ORDER BY runs.started, r.run_id, c.name, r.case_id"
        out = []
        for row in self.db.execute(sql, args):
            row = (row[0], row[1] or 0.0, row[2] or "") + tuple(row[3:])
            out.append(Row(row[0], row[1], row[2], row[3], row[4] or "", row[5] or "", row[6], row[7], row[8] or "",
                           Outcome.from_label(row[9]), Outcome.from_label(row[10]) if row[10] else None,
                           row[11] or "", row[12] or "", row[13] or 0, row[14] or 0, row[15] or "", row[16] or "",
                           json.loads(row[17] or "{}"), json.loads(row[18] or "[]"), json.loads(row[19] or "[]"),
                           json.loads(row[20] or "[]"), json.loads(row[21] or "[]")))
        return out

    def changes(self, run_id: str, against: Optional[str] = None) -> List[Change]:
        """Regressions, fixes and other class changes of `run_id`, each against the most recent earlier
        run of the same case x cell (or against the run `against`)."""
        after = self.rows(run_id)
        if not after:
            return []
        started = after[0].started
        history = [r for r in self.rows(against) if r.run_id != run_id and
                   (against is not None or (r.started, r.run_id) < (started, run_id))]
        last: Dict[Tuple[str, str], Row] = {}
        for r in history:
            if rank(r.outcome) is not None:
                last[(r.case_id, r.cell)] = r
        out = []
        for r in after:
            before = last.get((r.case_id, r.cell))
            if before is None or rank(r.outcome) is None or before.outcome is r.outcome:
                continue
            rb, ra = rank(before.outcome), rank(r.outcome)
            kind = "regression" if ra > rb else "fix" if ra < rb else "change"
            if before.case_sha != r.case_sha:
                cause = "case changed"
            elif before.packages != r.packages:
                cause = "packages changed: " + _package_diff(before.packages, r.packages)
            elif before.harness != r.harness:
                cause = f"harness changed: {before.harness} -> {r.harness}"
            else:
                cause = "flaky (nothing changed)"
            out.append(Change(r.case_id, r.cell, before.outcome, r.outcome, kind, cause, before.run_id, r.run_id))
        return out


def _expected(r: Result) -> list:
    """Expected sites = the actual ones that were not extra, plus the missing ones."""
    from .sites import compact
    extra = {(line, compact(text)) for line, text in r.extra}
    found = [[s.line, s.text] for s in r.actual_sites if (s.line, compact(s.text)) not in extra]
    return sorted(found + [list(m) for m in r.missing])


def _package_diff(a: str, b: str) -> str:
    da, db = json.loads(a), json.loads(b)
    return ", ".join(f"{k} {da.get(k)} -> {db.get(k)}" for k in sorted(set(da) | set(db)) if da.get(k) != db.get(k))


def record_rundir(history: History, run_path: Path, start: int = 0) -> int:
    """Import one run directory (as written by store.RunDir) into the history; idempotent. `start`: the
    bytes of results.jsonl the history already holds, so a run recorded cell by cell is read once."""
    from .store import RunDir
    info_path = run_path / "run.json"
    if not info_path.exists():
        raise HistoryError(f"{run_path}: not a run directory (no run.json)")
    info = json.loads(info_path.read_text())
    run = RunDir(run_path)
    if start and not history.db.execute("SELECT 1 FROM runs WHERE id=?", (info["id"],)).fetchone():
        start = 0       # a history made anew since: it holds none of this run
    history.add_run(info["id"], info)
    results = run.results(start)
    observations = {}
    consoles = {}
    for r in results:
        obs = run.observation(r.cell, r.case_id)
        if obs:
            observations[(r.cell, r.case_id)] = obs
        console = run.cell_dir(r.cell) / "console.log"
        for candidate in (console, run.cell_dir(r.cell) / "load" / "console.log"):
            if r.cell not in consoles and candidate.exists():
                consoles[r.cell] = candidate.read_text(errors="replace")
    return history.add_results(info["id"], results, observations, run.cases(), consoles)
