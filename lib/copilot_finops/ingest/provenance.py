"""The raw zone is the record: read a row's source object back from the raw file and line it was loaded from.

Tables that keep provenance carry `source_file` (an id into `raw_file`: path, sha256, the raw zone it was read
from, and when purge deleted it) and `source_line` (the 1-based line of an NDJSON report, gzip inflated; the
element of a JSON-array body or of a document's records). `source_record` returns the original bytes of an
NDJSON line, and says plainly when the file was purged, is missing or has changed since it was read.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import duckdb

from ..errors import UserError

# kind -> (table, the columns that find one row, a condition on the row's kind)
LOOKUP = {
    "users-1-day": ("user_day", ("day", "user"), "source_kind = 'users-1-day'"),
    "users-28-day": ("user_day", ("day", "user"), "source_kind = 'users-28-day'"),
    "organization-1-day": ("org_day", ("day", "org"), "source_kind = 'organization-1-day'"),
    "organization-28-day": ("org_day", ("day", "org"), "source_kind = 'organization-28-day'"),
    "enterprise-1-day": ("org_day", ("day", "org"), "source_kind = 'enterprise-1-day'"),
    "enterprise-28-day": ("org_day", ("day", "org"), "source_kind = 'enterprise-28-day'"),
    "seats": ("seat", ("day", "user"), "true"),
    "pulls": ("pull_request", ("repo", "number"), "true"),
    "deployments": ("deployment", ("repo", "number"), "true"),
    "repos-1-day": ("repo_day", ("day", "repo"), "true"),
}
_COLUMNS = {  # (table, argument) -> how the argument matches a row
    ("user_day", "day"): "day = ?", ("user_day", "user"): "(user_login = ? OR user_id::VARCHAR = ?)",
    ("org_day", "day"): "day = ?", ("org_day", "org"): "(organization_id = ? OR organization_id = 'enterprise:' || ?)",
    ("seat", "day"): "snapshot_day = ?", ("seat", "user"): "(user_login = ? OR user_id::VARCHAR = ?)",
    ("pull_request", "repo"): "repo = ?", ("pull_request", "number"): "number::VARCHAR = ?",
    ("deployment", "repo"): "repo = ?", ("deployment", "number"): "deployment_id::VARCHAR = ?",
    ("repo_day", "day"): "day = ?", ("repo_day", "repo"): "repo = ?",
}


@dataclass(frozen=True)
class SourceRecord:
    """One row's source object as the raw zone holds it."""

    kind: str
    path: str  # relative to the raw zone
    line: int
    sha256: str
    text: bytes  # the line itself (NDJSON), or the element's JSON (array bodies and documents)
    exact: bool  # True when `text` is the file's own bytes, False when it is the element re-serialised


@contextmanager
def open_text(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, gzip inflated."""
    with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as fh:
        yield fh


def read_lines(path: Path, numbers: set[int]) -> dict[int, bytes]:
    """The lines with those 1-based numbers, without their line ending (and the first without a byte-order mark)."""
    out: dict[int, bytes] = {}
    if not numbers:
        return out
    last = max(numbers)
    with open_text(path) as fh:
        for number, line in enumerate(fh, 1):
            if number in numbers:
                line = line.rstrip(b"\n").rstrip(b"\r")
                out[number] = line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line
            if number >= last:
                break
    return out


def _array_element(text: str, n: int) -> str | None:
    """The original text of element n (1-based) of a JSON array, or None."""
    decoder = json.JSONDecoder()
    i = text.index("[") + 1
    for number in range(1, n + 1):
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            return None
        start = i
        _, i = decoder.raw_decode(text, i)
        if number == n:
            return text[start:i]
    return None


def read_record(path: Path, kind: str, line: int) -> tuple[bytes, bool]:
    """(text, exact) of record `line` of a raw file of `kind`: an NDJSON line, an array element, a document element."""
    from . import documents
    from .rawfiles import RawFile
    from .schemas import NDJSON_KINDS

    with open_text(path) as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf").lstrip()
    if kind in NDJSON_KINDS + ("repos-1-day",) and not head.startswith(b"["):
        found = read_lines(path, {line}).get(line)
        if found is None:
            raise UserError(f"{path} has no line {line}: it is shorter than when it was ingested; run ingest again")
        return found, True
    if kind in NDJSON_KINDS:
        with open_text(path) as fh:
            element = _array_element(fh.read().decode("utf-8-sig", errors="replace"), line)
        if element is None:
            raise UserError(f"{path} has no element {line}: it changed since it was ingested; run ingest again")
        return element.encode(), True
    doc, _, _ = documents.read(RawFile(path, path.name, kind, None))
    items = documents._items(doc, "seats" if kind == "seats" else None)
    if not 0 < line <= len(items):
        raise UserError(f"{path} has no element {line}: it changed since it was ingested; run ingest again")
    return json.dumps(items[line - 1], separators=(",", ":"), ensure_ascii=False).encode(), False


def source_record(con: duckdb.DuckDBPyConnection, kind: str, raw_dir: str | Path | None = None,
                  **key: str) -> SourceRecord:
    """The source object of one warehouse row, read back from the raw zone.

    Parameters
    ----------
    con : the warehouse.
    kind : a kind of `LOOKUP` (users-1-day, organization-1-day, seats, pulls, …).
    raw_dir : the raw zone to read; default, the one the file was ingested from.
    key : what finds the row: day and user (a login or a user id) for users reports and seats, day (and org
        when there are several) for organisation reports, repo and number for pulls and deployments.

    Raises UserError, one line saying what to do, when there is no such row, when the row's raw file was
    purged, is missing or has changed since it was ingested.
    """
    if kind not in LOOKUP:
        raise UserError(f"--kind {kind!r}: show-record reads {', '.join(LOOKUP)}")
    table, args, condition = LOOKUP[kind]
    where, params = [condition], []
    for arg in args:
        value = key.get(arg)
        if value is None:
            if arg == "org":
                continue
            raise UserError(f"--{arg} is needed to find a {kind} row (it takes {' and '.join('--' + a for a in args)})")
        clause = _COLUMNS[(table, arg)]
        where.append(clause)
        params += [str(value)] * clause.count("?")
    described = ", ".join(f"{a} {key[a]}" for a in args if key.get(a) is not None)
    columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    if "source_file" not in columns:
        raise UserError("the warehouse was built by an earlier version that kept no provenance: run "
                        "`copilot-finops ingest RAWDIR` once to bring it up to date")
    rows = con.execute(f"SELECT source_file, source_line FROM {table} WHERE {' AND '.join(where)} LIMIT 2",
                       params).fetchall()
    if not rows:
        raise UserError(f"no {kind} row for {described} in the warehouse{_purged_note(con, table, key.get('day'))}")
    if len(rows) > 1:
        raise UserError(f"several {kind} rows match {described}: add --org to pick one")
    file_id, line = rows[0]
    if file_id is None:
        raise UserError(f"the {kind} row for {described} has no provenance (loaded before the warehouse kept it): "
                        "run `copilot-finops ingest RAWDIR --full` once")
    path, sha, ingested_from, purged_at = con.execute(
        "SELECT path, sha256, raw_dir, purged_at FROM raw_file WHERE file_id = ?", [file_id]).fetchone()
    if purged_at is not None:
        raise UserError(f"the raw file {path} was deleted by purge on {purged_at:%Y-%m-%d} (retention): the source "
                        f"record of {kind} {described} is gone; the warehouse keeps only its typed columns")
    root = Path(raw_dir) if raw_dir is not None else Path(ingested_from or ".")
    full = root / path
    if not full.is_file():
        raise UserError(f"raw file {full} is missing: pass --raw with the raw zone it was ingested from "
                        f"({ingested_from})")
    digest = hashlib.sha256()
    with open(full, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != sha:
        raise UserError(f"raw file {full} changed since it was ingested (its sha256 differs): run "
                        "`copilot-finops ingest` again, then show-record")
    text, exact = read_record(full, kind, int(line))
    return SourceRecord(kind, path, int(line), sha, text, exact)


def _purged_note(con: duckdb.DuckDBPyConnection, table: str, day) -> str:
    """'; rows before X were purged' when a purge removed the rows of that day."""
    if day is None:
        return ""
    cutoff = con.execute("SELECT max(cutoff) FROM purge_log WHERE target = ? AND action = 'deleted rows'",
                         [table]).fetchone()[0]
    return f"; rows before {cutoff} were deleted by purge (retention)" if cutoff and str(day) < str(cutoff) else ""
