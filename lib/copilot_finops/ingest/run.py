"""Ingest: the raw zone into the warehouse, replacing rows by natural key, quarantining what it cannot read.

NDJSON reports are parsed by DuckDB (`reports`, with the schemas in `schemas` and the rules in `rules`), so a
1M-line report never passes through pandas. JSON documents (seats, teams, billing, delivery) are small and
parsed in Python (`documents`), as are the attribution kinds (`attribution`: team maps, cost centers, the
repository report, billing usage). A file whose records are of another kind is quarantined whole (`signatures`).
Each batch of files is loaded in one transaction together with its `ingest_file` bookkeeping and the
retention past purges recorded (`retention.reapply`), so a crash leaves the warehouse usable, a rerun picks
up where it stopped, and rows a purge removed never come back.
"""
from __future__ import annotations

import copy
import gc
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from .. import retention, warehouse
from ..errors import UserError
from . import attribution, documents, migrate, replacing, repeats
from .manifest import load_manifest
from .rawfiles import RawFile, _load_order, discover
from .reports import ReportLoader
from .schemas import ATTRIBUTION_KINDS, KINDS, NDJSON_KINDS

# The tables each kind writes that hold rows purge may remove (retention.reapply runs after each load).
_USAGE_TABLES = ("user_day", "user_day_feature", "user_day_model_feature", "user_day_language_feature", "user_day_ide")
KIND_TABLES = {
    "users-1-day": _USAGE_TABLES, "users-28-day": _USAGE_TABLES, "user-teams-1-day": ("user_team_day",),
    "seats": ("seat",), "teams": ("team_member",), "ai-credit-usage": ("credit_usage",),
    "premium-request-usage": ("credit_usage",),
    "pulls": ("pull_request", "review", "pull_request_file", "pull_request_person"),
    "reviews": ("review",), "pull-files": ("pull_request_file",), "deployments": ("deployment",),
    "issues": ("incident",), "team-map": ("team_assignment",), "cost-centers": ("team_assignment",),
    "repos-1-day": (), "billing-usage": (),  # repositories and workflows: no person, nothing purge removes
}

# What a document may still hold that the loaders did not foresee; its file is then quarantined, not the run stopped.
UNFORESEEN = (TypeError, ValueError, AttributeError, KeyError, IndexError, duckdb.ConversionException,
              duckdb.InvalidInputException)
MEMORY_LIMIT = os.environ.get("COPILOT_FINOPS_INGEST_MEMORY", "1500MB")  # DuckDB spills to disk beyond this
# Rows per row group that ingest writes. A batch then fills whole row groups, which DuckDB writes
# once, compressed, as they fill; with the default (122,880 rows, about 1 GB of user-day records)
# every commit re-wrote the table's growing last row group, and ingest slowed as the table grew.
ROW_GROUP_SIZE = 8192
STAGED_ROWS = 50_000  # rows of JSON documents held before they are written: bounds memory on a first ingest
TRANSACTION_BYTES = 128 * 1024 * 1024  # JSON documents loaded in one transaction (whole kinds): bounds its size
READ_BYTES = 16 * 1024 * 1024  # documents of a kind read together, their elements looked up in one query (repeats)


@dataclass
class IngestSummary:
    run_id: str
    raw_dir: str
    files_seen: int = 0
    files_ingested: int = 0
    files_unchanged: int = 0
    elements_unchanged: int = 0  # elements of documents served again as the tables hold them (ingest.repeats)
    rows_loaded: int = 0
    lines_quarantined: int = 0
    by_kind: dict = field(default_factory=dict)
    seconds_by_kind: dict = field(default_factory=dict)  # wall time spent on each kind's files
    batches_typed: int = 0  # NDJSON batches DuckDB's JSON reader parsed whole (the fast path)
    batches_line_by_line: int = 0  # batches with a line it refused, parsed line by line instead
    quarantined_files: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Ingestor(ReportLoader):
    """Loads files into an open warehouse connection; one instance per ingest run."""

    def __init__(self, con: duckdb.DuckDBPyConnection, raw_dir: Path, summary: IngestSummary):
        self.con = con
        self.raw_dir = raw_dir
        self.raw_root = str(raw_dir.resolve())  # recorded in raw_file, where show-record reads the file back
        self.summary = summary
        self.now = datetime.now(timezone.utc).replace(tzinfo=None)
        self.bar = None  # a tqdm bar counting files, when progress is shown
        self._ingested: list[tuple] = []  # ingest_file rows of the open transaction, written by commit()
        self._files: dict | None = None  # raw_file as (path, sha256) -> [file_id, raw_dir, purged], read once
        self._next_id = 1
        self._registered: list[tuple] = []  # raw_file rows of the open transaction, written by write_registered()
        self._moved: list[int] = []  # raw_file ids read again from this raw zone, written by write_registered()
        self._cutoff: list | None = None  # [the recorded retention cutoff], read once: ingest never purges
        self.compare = True  # leave groups whose digest is unchanged as they are (False: `ingest --full`)

    def commit(self) -> None:
        """Write the open transaction's raw_file and ingest_file rows (a few statements, not a few a file) and
        commit."""
        self.write_registered()
        if self._ingested:
            rows = list(zip(*self._ingested))
            self.con.execute("DELETE FROM ingest_file WHERE path IN (SELECT unnest($p))", {"p": list(rows[0])})
            self.con.execute("INSERT INTO ingest_file SELECT unnest($p), unnest($k), unnest($f), unnest($r), "
                             "unnest($q), $t", {"p": list(rows[0]), "k": list(rows[1]), "f": list(rows[2]),
                                                "r": list(rows[3]), "q": list(rows[4]), "t": self.now})
            self._ingested.clear()
        self.con.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back the open transaction and forget what it wrote."""
        try:
            self.con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass
        self._ingested.clear()
        self._registered.clear()
        self._moved.clear()
        self._files = None

    # -- bookkeeping ----------------------------------------------------------------------------
    def quarantine(self, rows: list[tuple[str, int, str, str, str]]) -> None:
        """rows: (path, line, kind, error, raw_text). Replaces earlier entries for the same path and line."""
        if not rows:
            return
        self.con.executemany("DELETE FROM quarantine WHERE path = ? AND line = ?", [(r[0], r[1]) for r in rows])
        self.con.executemany("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
                             [(p, ln, k, e, (t or "")[:20000], self.now) for p, ln, k, e, t in rows])
        self.summary.lines_quarantined += len(rows)
        for p in sorted({r[0] for r in rows}):
            if p not in self.summary.quarantined_files:
                self.summary.quarantined_files.append(p)

    def mark_ingested(self, f: RawFile, rows: int, quarantined: int) -> None:
        self._ingested.append((f.rel, f.kind, f.fingerprint(), rows, quarantined))
        self.summary.files_ingested += 1
        self.summary.rows_loaded += rows
        self.summary.by_kind[f.kind] = self.summary.by_kind.get(f.kind, 0) + rows
        if self.bar is not None:
            self.bar.update(1)

    def register(self, f: RawFile, sha256: str, size: int) -> int:
        """The raw_file id of these bytes at this path: the same id while the content stays the same."""
        con = self.con
        if self._files is None:
            self._files = {(p, sha): [i, d, purged] for i, p, sha, d, purged in con.execute(
                "SELECT file_id, path, sha256, raw_dir, purged_at IS NOT NULL FROM raw_file").fetchall()}
            self._next_id = max((v[0] for v in self._files.values()), default=0) + 1
        known = self._files.get((f.rel, sha256))
        if known:
            if known[2] or known[1] != self.raw_root:  # read again after a purge, or from a moved raw zone
                self._moved.append(known[0])
                known[1:] = [self.raw_root, False]
            return known[0]
        file_id, self._next_id = self._next_id, self._next_id + 1
        self._registered.append((file_id, f.rel, f.kind, sha256, size))
        self._files[(f.rel, sha256)] = [file_id, self.raw_root, False]
        return file_id

    def write_registered(self) -> None:
        """Write what `register` noted in the open transaction into raw_file."""
        if self._moved:
            self.con.execute("UPDATE raw_file SET purged_at = NULL, raw_dir = $d WHERE list_contains($ids, file_id)",
                             {"d": self.raw_root, "ids": self._moved})
            self._moved.clear()
        if self._registered:
            rows = list(zip(*self._registered))
            self.con.execute("INSERT INTO raw_file SELECT unnest($i), unnest($p), unnest($k), unnest($s), unnest($b), "
                             "$d, $t, NULL", {"i": list(rows[0]), "p": list(rows[1]), "k": list(rows[2]),
                                              "s": list(rows[3]), "b": list(rows[4]), "d": self.raw_root,
                                              "t": self.now})
            self._registered.clear()

    def reject_file(self, f: RawFile, error: str, excerpt: str = "", transaction: bool = True) -> None:
        """Quarantine a whole file (line 0) that cannot be loaded; nothing of it reaches the tables."""
        if transaction:
            self.con.execute("BEGIN")
        self.quarantine([(f.rel, 0, f.kind, error, excerpt[:2000])])
        self.mark_ingested(f, 0, 1)
        if transaction:
            self.commit()

    def reapply_retention(self, kind: str) -> None:
        """Delete again what past purges removed from the tables `kind` writes (see retention.reapply)."""
        if self._cutoff is None:
            self._cutoff = [retention.recorded_cutoff(self.con)]
        retention.reapply(self.con, KIND_TABLES.get(kind, ()), self._cutoff[0])

    # -- JSON documents ---------------------------------------------------------------------------
    def load_documents(self, batches: list[tuple[str, list[RawFile]]]) -> None:
        """Load the documents of each (kind, files), in order, in as few transactions as TRANSACTION_BYTES allows
        (a daily fetch brings dozens of small ones of a dozen kinds, and each commit costs a sync to disk).

        The files' rows are written together, a table at a time (`replacing.apply`), up to STAGED_ROWS at once.
        A file that is not JSON, or not of its kind, is refused before it changes anything (FileRejected). Should
        a file still hold something the loaders did not foresee, its kinds are loaded again one transaction a kind,
        and that kind file by file: the file that fails is quarantined whole with the error, and one bad document
        never stops a run.
        """
        group: list[tuple[str, list[RawFile]]] = []
        size = 0
        # Parsed documents and the rows built of them are millions of small objects without reference cycles,
        # which the cyclic collector would walk again and again as they are made (0.8 s of a 5.7 s daily
        # increment at 10,000 developers); reference counting frees them all the same.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for kind, files in batches:
                kind_size = sum(f.path.stat().st_size for f in files)
                if group and size + kind_size > TRANSACTION_BYTES:
                    self._load_kinds(group)
                    group, size = [], 0
                group.append((kind, files))
                size += kind_size
            if group:
                self._load_kinds(group)
        finally:
            if collecting:
                gc.enable()

    def _load_kinds(self, group: list[tuple[str, list[RawFile]]]) -> None:
        """Load the documents of these kinds in one transaction; on an unforeseen error, a transaction a kind."""
        con, seconds = self.con, self.summary.seconds_by_kind
        counted = copy.deepcopy(self.summary.__dict__)
        con.execute("BEGIN")
        try:
            for kind, files in group:
                t0 = time.perf_counter()
                staged: list[replacing.Replacement] = []

                def flush() -> None:
                    replacing.apply(con, staged, self.compare)
                    staged.clear()

                for f, read, seen in self._read(kind, files, flush):
                    staged += self._load_document(f, read, seen)
                    if sum(len(r.rows) for r in staged) >= STAGED_ROWS:
                        flush()
                flush()
                self.reapply_retention(kind)
                seconds[kind] = round(time.perf_counter() - t0, 3)
        except UNFORESEEN:
            self.rollback()
            self.summary.__dict__.update(counted)  # counted again below
        else:
            t0 = time.perf_counter()
            self.commit()
            seconds[kind] = round(seconds[kind] + time.perf_counter() - t0, 3)  # the commit goes to the last kind
            return
        if len(group) > 1:
            for kind_files in group:
                self._load_kinds([kind_files])
            return
        kind, files = group[0]
        t0 = time.perf_counter()
        for f, read, seen in self._read(kind, files, lambda: None):  # (each file is written before the next)
            con.execute("BEGIN")
            try:
                replacing.apply(con, self._load_document(f, read, seen), self.compare)
            except UNFORESEEN as exc:
                self.rollback()
                self.reject_file(f, f"could not be read as {kind}: {type(exc).__name__}: {exc}"[:500])
                continue
            self.reapply_retention(kind)
            self.commit()
        seconds[kind] = round(time.perf_counter() - t0, 3)

    def _read(self, kind: str, files: list[RawFile], flush: Callable[[], None]) -> Iterator[tuple]:
        """(file, its document or the FileRejected reading it raised or None to read it when it loads, the keys
        seen) for each file: the kinds of `repeats.KINDS` are read ahead (`repeats.read_ahead`)."""
        if kind not in repeats.KINDS or not self.compare:
            return ((f, None, None) for f in files)
        return repeats.read_ahead(self.con, files, _read_served, flush, READ_BYTES)

    def _load_document(self, f: RawFile, read: tuple | Exception | None = None,
                       seen: dict | None = None) -> list[replacing.Replacement]:
        """Read one document (unless `_read` did), quarantine what it must, and return the Replacements that
        load its rows (the attribution kinds write theirs here). seen: see `documents.stage`."""
        staged = []
        try:
            if isinstance(read, Exception):
                raise read
            if f.kind in ATTRIBUTION_KINDS:
                text, sha, size = attribution.read(f)
                file_id = self.register(f, sha, size)
                self.write_registered()  # a team map replaces what the path's earlier versions (in raw_file) loaded
                rows, bad = attribution.load(self.con, f, text, file_id)
            else:
                doc, sha, size = read or documents.read(f, served=True)
                rows, bad, staged = documents.stage(self.con, f, doc, self.register(f, sha, size), seen)
                self.summary.elements_unchanged += getattr(doc, "unchanged", 0)
        except documents.FileRejected as exc:
            self.reject_file(f, exc.message, exc.excerpt, transaction=False)
            return []
        self.quarantine(bad)
        self.mark_ingested(f, rows, len(bad))
        return staged


def _read_served(f: RawFile) -> tuple | Exception:
    try:
        return documents.read(f, served=True)
    except documents.FileRejected as exc:
        return exc


def ingest_raw(raw_dir: str | os.PathLike, warehouse_path: str | os.PathLike, full: bool = False,
               progress: bool = False, files: list[RawFile] | None = None) -> IngestSummary:
    """Load a raw zone into the warehouse.

    Parameters
    ----------
    raw_dir : the raw zone (see DESIGN.md, "Raw zone").
    warehouse_path : DuckDB file, created if missing.
    full : re-read every file, not only new or changed ones, and write every row again, digests unchanged or not
        (the result is the same unless the code that builds the rows changed; slower).
    progress : show a progress bar per kind on stderr.
    files : only these files (used by `import`); default: everything under `raw_dir`.

    Returns
    -------
    IngestSummary: files seen, ingested and unchanged, rows loaded, lines quarantined (with their files).
    """
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise UserError(f"raw zone {raw} is not a folder: pass the folder that `generate` or `fetch` wrote "
                        "(it holds metrics/, seats/, billing/ …)")
    if files is None:
        files, _unknown = discover(raw)
    summary = IngestSummary(run_id=uuid.uuid4().hex[:12], raw_dir=str(raw_dir), files_seen=len(files))
    con = warehouse.connect(warehouse_path, row_group_size=ROW_GROUP_SIZE)
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")  # row order carries no meaning in the warehouse
    migrate.upgrade(con)
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    ingestor = Ingestor(con, raw, summary)
    ingestor.compare = not full
    try:
        done = dict(con.execute("SELECT path, sha256 FROM ingest_file").fetchall())
        todo = [f for f in files if full or done.get(f.rel) != f.fingerprint()]
        summary.files_unchanged = len(files) - len(todo)
        if todo:  # the materialized views read their SQL again until a report run fills their tables
            warehouse.mark_stale(con)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = ingestor.bar = tqdm(total=len(todo), desc="ingest", unit="file", leave=False)
        documents_by_kind: list[tuple[str, list[RawFile]]] = []  # consecutive kinds of JSON documents, loaded together

        def load_documents() -> None:
            if documents_by_kind:
                if bar is not None:
                    bar.set_description(f"ingest {', '.join(k for k, _ in documents_by_kind)}")
                ingestor.load_documents(documents_by_kind)
                documents_by_kind.clear()

        with tempfile.TemporaryDirectory(prefix="copilot-finops-ingest-") as tmp:
            for kind in KINDS:  # 28-day before 1-day, so 1-day rows win
                batch = sorted((f for f in todo if f.kind == kind), key=_load_order)
                if not batch:
                    continue
                if kind not in NDJSON_KINDS:
                    documents_by_kind.append((kind, batch))
                    continue
                load_documents()
                if bar is not None:
                    bar.set_description(f"ingest {kind}")
                t0 = time.perf_counter()
                ingestor.load_ndjson(kind, batch, Path(tmp))
                summary.seconds_by_kind[kind] = round(time.perf_counter() - t0, 3)
            load_documents()
        if bar is not None:
            bar.close()
        con.execute("BEGIN")
        load_manifest(con, raw)  # what arrived when: the data_gap view reads it
        con.execute("COMMIT")
        con.execute("INSERT INTO ingest_run VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')", [
            summary.run_id, started, datetime.now(timezone.utc).replace(tzinfo=None), str(raw_dir),
            summary.files_seen, summary.files_ingested, summary.files_unchanged, summary.rows_loaded,
            summary.lines_quarantined])
    except Exception:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise
    finally:
        con.close()
    return summary
