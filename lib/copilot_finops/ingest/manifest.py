"""The raw zone's manifest.jsonl into the warehouse (`fetch_manifest`): what arrived, for which day, and when.

`fetch` appends one line per file (and one per day GitHub had no report for); the demo generator writes one per
file. The table is replaced whole from the file at every ingest, so it always says what the manifest says; a torn
or foreign line is skipped, as `fetch` itself skips it. Without a manifest (files imported by hand) the table is
left empty, and the data_gap view judges days by what the warehouse holds alone.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

MANIFEST = "manifest.jsonl"
COLUMNS = ("line", "kind", "day", "part", "parts", "status", "path", "rows", "fetched_at", "source")
_DAY_FOLDER = re.compile(r"(?:^|/)(\d{4}-\d{2}-\d{2})/")


def _day(entry: dict) -> date | None:
    """The report day a line is about: its `day` field, else a YYYY-MM-DD folder in its path."""
    for text in (entry.get("day"), *_DAY_FOLDER.findall(str(entry.get("path") or ""))):
        try:
            return date.fromisoformat(str(text))
        except ValueError:
            continue
    return None


def _utc(text) -> datetime | None:
    """An ISO timestamp as naive UTC (GitHub and fetch write UTC; an offset is honoured)."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def manifest_rows(raw_dir: Path) -> pd.DataFrame:
    """Every readable line of RAW/manifest.jsonl as a row of `fetch_manifest` (an empty frame without one)."""
    path = Path(raw_dir) / MANIFEST
    rows = []
    if path.is_file():
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(entry, dict) or not entry.get("kind"):
                continue
            rows.append((number, str(entry["kind"]), _day(entry), _int(entry.get("part")), _int(entry.get("parts")),
                         _int(entry.get("status")), entry.get("path"), _int(entry.get("rows")),
                         _utc(entry.get("fetched_at")), entry.get("source")))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"line": "int64", "part": "Int32", "parts": "Int32", "status": "Int32", "rows": "Int64",
                         "kind": "object", "path": "object", "source": "object"})


def load_manifest(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> int:
    """Replace `fetch_manifest` with the raw zone's manifest (inside the caller's transaction); returns its lines."""
    frame = manifest_rows(raw_dir)
    con.execute("DELETE FROM fetch_manifest")
    if len(frame):
        frame["day"] = pd.to_datetime(frame["day"])
        frame["fetched_at"] = pd.to_datetime(frame["fetched_at"])
        con.register("manifest_frame", frame)
        try:
            con.execute(f"INSERT INTO fetch_manifest SELECT {', '.join(COLUMNS)} FROM manifest_frame")
        finally:
            con.unregister("manifest_frame")
    return len(frame)
