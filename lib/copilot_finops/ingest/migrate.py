"""Bring a warehouse built by an earlier version to the current table layout, in place, before an ingest.

Earlier warehouses kept each source object's text in a `record` column and its file in `source_path`. The raw
zone is the record now: those columns go, `source_file` and `source_line` come, and every raw file is read once
more by the next ingest so the rows get their provenance. Tables that cannot be rebuilt from the raw zone
(archives, logs, audits) are untouched.
"""
from __future__ import annotations

import duckdb

PROVENANCE_TABLES = ("user_day", "org_day", "seat", "credit_usage", "team", "pull_request", "deployment",
                     "team_assignment", "repo_day", "billing_usage_item", "pull_request_person")


def upgrade(con: duckdb.DuckDBPyConnection) -> bool:
    """Drop `record` and `source_path`, add `source_file` and `source_line`; True when anything changed.

    When it changes the layout, it forgets which files were ingested (`ingest_file`), so this ingest reads
    them all and fills the provenance of every row.
    """
    changed = False
    for table in PROVENANCE_TABLES:
        columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        for old in ("record", "source_path"):
            if old in columns:
                con.execute(f"ALTER TABLE {table} DROP COLUMN {old}")
                changed = True
        for new in ("source_file", "source_line"):
            if new not in columns:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {new} BIGINT")
                changed = True
    if changed:
        con.execute("DELETE FROM ingest_file")
    return changed
