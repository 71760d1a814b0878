"""Retention of hand imports: a file brought in with `import` is judged by the days its records hold, not its name.

`import` keeps a file's own name (RAW/imports/<kind>/<checksum>/<name>), which may carry no day or the wrong one.
So purge reads each imported report (NDJSON lines or a JSON array's elements) and billing document: a file whose
records are all past retention is deleted; a file that holds both is rewritten beside it with only the records
kept (raw files are never edited in place: the new file has its own checksum folder), and the rows loaded from
it point to their new line. Seats and teams snapshots are named by their day, so the name rules them as
everywhere else in the raw zone. A record with no day that can be read goes with the expired ones.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .ingest.provenance import open_text
from .ingest.rawfiles import RawFile

BY_CONTENT = ("users-1-day", "users-28-day", "user-teams-1-day", "organization-1-day", "organization-28-day",
              "enterprise-1-day", "enterprise-28-day", "ai-credit-usage", "premium-request-usage")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}$")


@dataclass
class ImportPlan:
    """What purge does to one imported file: delete it, or rewrite it keeping some records."""

    raw: RawFile
    action: str  # "delete" or "rewrite"
    kept: list[tuple[int, bytes]] = field(default_factory=list)  # (old record number, its text) in order
    array: bool = False  # the body is a JSON array (else NDJSON lines)
    new_rel: str | None = None  # where a rewrite wrote the kept records, relative to the raw zone
    new_path: Path | None = None


def _last_day(kind: str, record) -> str | None:
    """The latest day (YYYY-MM-DD; billing: the last day of its month as YYYY-MM-31) a record holds."""
    if not isinstance(record, dict):
        return None
    if kind in ("ai-credit-usage", "premium-request-usage"):
        period = record.get("timePeriod") if isinstance(record.get("timePeriod"), dict) else {}
        try:
            return f"{int(period['year']):04d}-{int(period['month']):02d}-31"
        except (KeyError, TypeError, ValueError):
            return None
    days = [record.get("day"), record.get("report_end_day")]
    days += [d.get("day") for d in record.get("day_totals") or [] if isinstance(d, dict)]
    days = [d for d in days if isinstance(d, str) and _DAY.match(d)]
    return max(days) if days else None


def _records(path: Path, kind: str) -> tuple[list[tuple[int, bytes]], bool]:
    """(number, original text) of every record of a file, and whether its body is a JSON array."""
    with open_text(path) as fh:
        data = fh.read()
    text = data.decode("utf-8-sig", errors="replace")
    if text.lstrip().startswith("["):
        decoder, out, i = json.JSONDecoder(), [], text.index("[") + 1
        try:
            while True:
                while i < len(text) and text[i] in " \t\r\n,":
                    i += 1
                if i >= len(text) or text[i] == "]":
                    break
                start = i
                _, i = decoder.raw_decode(text, i)
                out.append((len(out) + 1, text[start:i].encode()))
        except json.JSONDecodeError:
            pass  # an unreadable tail: what precedes it stands, the rest goes with the expired records
        return out, True
    if kind in ("ai-credit-usage", "premium-request-usage"):  # one usage response as a single object
        return [(1, text.strip().encode())], False
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    return [(n, line.rstrip(b"\r")) for n, line in enumerate(lines, 1) if line.strip()], False


def plan_imports(files: list[RawFile], cutoff) -> list[ImportPlan]:
    """For each imported file judged by content, what purge does (files with nothing past `cutoff` are left)."""
    plans = []
    for f in files:
        if not f.rel.startswith("imports/") or f.kind not in BY_CONTENT:
            continue
        try:
            records, array = _records(f.path, f.kind)
        except OSError:
            continue
        kept, expired = [], 0
        for number, text in records:
            try:
                day = _last_day(f.kind, json.loads(text))
            except ValueError:
                day = None
            if day is not None and day >= str(cutoff):
                kept.append((number, text))
            else:
                expired += 1
        if not expired:
            continue
        plans.append(ImportPlan(f, "rewrite" if kept else "delete", kept, array))
    return plans


def write_rewrites(raw: Path, plans: list[ImportPlan]) -> None:
    """Write each rewrite's kept records as a new file in its own checksum folder (temp file + rename)."""
    for plan in plans:
        if plan.action != "rewrite":
            continue
        body = (b"[" + b",\n".join(t for _, t in plan.kept) + b"]\n" if plan.array
                else b"\n".join(t for _, t in plan.kept) + b"\n")
        digest = hashlib.sha256(body).hexdigest()
        name = plan.raw.path.name.removesuffix(".gz")
        target = raw / "imports" / plan.raw.kind / digest[:12] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(body)
        os.replace(tmp, target)
        plan.new_rel, plan.new_path = "/".join(target.relative_to(raw).parts), target


def repoint(con, plans: list[ImportPlan], tables: tuple[str, ...], now) -> None:
    """Register each rewritten file in raw_file and point the rows read from the old file to their new line."""
    for plan in plans:
        if plan.new_rel is None:
            continue
        old_ids = [r[0] for r in con.execute("SELECT file_id FROM raw_file WHERE path = ?", [plan.raw.rel]).fetchall()]
        if not old_ids:
            continue
        data = plan.new_path.read_bytes()
        new_id = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM raw_file").fetchone()[0]
        raw_dir = con.execute("SELECT raw_dir FROM raw_file WHERE file_id = ?", [old_ids[-1]]).fetchone()[0]
        con.execute("INSERT INTO raw_file VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    [new_id, plan.new_rel, plan.raw.kind, hashlib.sha256(data).hexdigest(), len(data), raw_dir, now])
        con.execute("CREATE OR REPLACE TEMP TABLE line_map AS SELECT unnest($old) AS old_line, "
                    "unnest(range(1, len($old) + 1)) AS new_line", {"old": [n for n, _ in plan.kept]})
        for table in tables:
            con.execute(f"UPDATE {table} t SET source_file = $new, source_line = m.new_line FROM line_map m "
                        f"WHERE t.source_file IN (SELECT unnest($ids)) AND t.source_line = m.old_line",
                        {"new": new_id, "ids": old_ids})
        con.execute("DROP TABLE line_map")
