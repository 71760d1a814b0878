"""Retention: `purge` deletes user-level rows and raw files past their retention, in whole months,
after archiving the team aggregates of the months it removes (archive_* tables), and logs what it
removed in `purge_log`; every later ingest applies the recorded cutoff again (`reapply`), so rows
purge removed never come back. Hand imports are judged by the days they hold (`retention_raw`).
docs/PRIVACY.md states the promise; this module keeps it.
"""
from __future__ import annotations

import getpass
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from . import retention_raw, warehouse
from .errors import UserError

# -- retention: purge -----------------------------------------------------------------------------------------
# Purge works in whole months (and whole weeks at the edge), so every month and week that remains keeps exactly
# the figures it had: the first day kept is the Monday on or before the first day of the month that holds
# (as_of - retention days). Rows are therefore removed at most about five weeks after they pass retention.
DAY_TABLES = ("user_day", "user_day_feature", "user_day_model_feature", "user_day_language_feature",
              "user_day_ide", "user_team_day")
ARCHIVED_MARTS = {  # team-level aggregates kept for the months purge removes: view -> its time column
    "mart_org_day_usage": "day", "mart_team_day_usage": "day", "mart_team_day_feature": "day",
    "mart_team_day_model": "day", "mart_team_day_cost": "day", "mart_team_month_cost": "period",
    "mart_team_week_delivery_usage": "week_start",
}
SNAPSHOT_KINDS = ("seats", "teams", "team-map", "cost-centers")  # who held a seat, who was on which team
_PATH_DAY = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
_PATH_MONTH = re.compile(r"(?<![\d-])(\d{4}-\d{2})(?:\.json|\.ndjson)")


def retention_cutoff(as_of, days: int):
    """The first day kept: the Monday on or before the first day of the month holding `as_of - days`."""
    from datetime import timedelta

    month_start = (as_of - timedelta(days=days)).replace(day=1)
    return month_start - timedelta(days=month_start.weekday())


def first_kept_period(cutoff) -> str:
    """The first whole month kept (YYYY-MM): the month that starts on or after `cutoff`."""
    if cutoff.day == 1:
        return cutoff.strftime("%Y-%m")
    y, m = (cutoff.year + 1, 1) if cutoff.month == 12 else (cutoff.year, cutoff.month + 1)
    return f"{y:04d}-{m:02d}"


@dataclass
class PurgeReport:
    """What purge removed (or, in a dry run, would remove)."""

    as_of: object
    user_cutoff: object  # first day of user-level rows kept
    raw_cutoff: object  # first day of raw files kept
    first_kept_period: str
    dry_run: bool
    rows: dict  # table -> user-level rows deleted
    archived: dict  # archive table -> team aggregate rows added
    scrubbed: dict  # table -> rows whose login fields were cleared
    raw_files: list  # raw-zone paths deleted
    raw_rewritten: list = field(default_factory=list)  # imported files replaced by a copy of their records kept

    def as_dict(self) -> dict:
        return {"as_of": str(self.as_of), "user_cutoff": str(self.user_cutoff), "raw_cutoff": str(self.raw_cutoff),
                "first_kept_period": self.first_kept_period, "dry_run": self.dry_run, "rows": self.rows,
                "archived": self.archived, "scrubbed": self.scrubbed, "raw_files": len(self.raw_files),
                "raw_files_by_kind": _by_kind(self.raw_files), "raw_files_rewritten": len(self.raw_rewritten)}


def _by_kind(paths: list[str]) -> dict:
    from .ingest.rawfiles import _kind_of

    counts: dict[str, int] = {}
    for rel in paths:
        kind = _kind_of(tuple(rel.split("/")))[0] or "other"
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def expired_raw_files(rel_paths: list[str], cutoff, kinds: dict[str, str]) -> list[str]:
    """Raw-zone paths past retention: dated before `cutoff`, monthly files of months before the first kept month.

    The latest snapshot of each kind of SNAPSHOT_KINDS on or before the cutoff is kept: it says who held a seat
    and who was on which team on the first days kept. Files without a date in their path (delivery histories, hand imports)
    are kept. `kinds` maps each path to its kind.
    """
    first_month = first_kept_period(cutoff)
    snapshot_keep: dict[str, str] = {}
    for rel in rel_paths:
        m = _PATH_DAY.search(rel)
        if kinds.get(rel) in SNAPSHOT_KINDS and m and m.group(1) <= str(cutoff):
            snapshot_keep[kinds[rel]] = max(snapshot_keep.get(kinds[rel], ""), m.group(1))
    expired = []
    for rel in rel_paths:
        day, month = _PATH_DAY.search(rel), _PATH_MONTH.search(rel)
        if day:
            if day.group(1) < str(cutoff) and snapshot_keep.get(kinds.get(rel)) != day.group(1):
                expired.append(rel)
        elif month and month.group(1) < first_month:
            expired.append(rel)
    return expired


def _delete_plan(con: duckdb.DuckDBPyConnection, cutoff, first_period: str,
                 orphans: bool = False) -> list[tuple[str, str, list]]:
    """(table, WHERE condition, arguments) for every user-level deletion, children before parents.

    With `orphans`, also the reviews (submitted before the cutoff) and files of pull requests the warehouse no
    longer has: after a purge those are the purged ones, and a review file read again must not bring their
    reviewers back.
    """
    def latest_on_or_before(table: str, column: str):
        return con.execute(f"SELECT max({column}) FROM {table} WHERE {column} <= ?", [cutoff]).fetchone()[0]

    roster_keep = latest_on_or_before("team_member", "snapshot_day") or cutoff
    seat_keep = latest_on_or_before("seat", "snapshot_day") or cutoff
    closed_pr = "coalesce(merged_at, closed_at) < ?"
    plan = [(t, "day < ?", [cutoff]) for t in DAY_TABLES]
    orphan = " OR (repo, number) NOT IN (SELECT (repo, number) FROM pull_request)" if orphans else ""
    old_orphan = f"{orphan} AND submitted_at < ?" if orphans else ""
    plan += [
        ("team_member", "snapshot_day < ?", [roster_keep]),
        # A leaver's last row stays while the cancelled seat is still billed on days kept.
        ("seat", "snapshot_day < ? AND NOT (coalesce(pending_cancellation_date >= ?, false) AND snapshot_day = "
                 "(SELECT max(x.snapshot_day) FROM seat x WHERE x.user_id = seat.user_id))", [seat_keep, cutoff]),
        ("credit_usage", "user_login <> '' AND period < ?", [first_period]),
        ("review", f"(repo, number) IN (SELECT (repo, number) FROM pull_request WHERE {closed_pr}){old_orphan}",
         [cutoff, cutoff] if orphans else [cutoff]),
        ("pull_request_file", f"(repo, number) IN (SELECT (repo, number) FROM pull_request WHERE {closed_pr}){orphan}",
         [cutoff]),
        ("pull_request_person",
         f"(repo, number) IN (SELECT (repo, number) FROM pull_request WHERE {closed_pr}){orphan}", [cutoff]),
        # Team maps and cost centers, like the roster: per source, the latest snapshot on or before the cutoff stays.
        ("team_assignment", "snapshot_day < coalesce((SELECT max(x.snapshot_day) FROM team_assignment x WHERE "
                            "x.source = team_assignment.source AND x.snapshot_day <= ?), ?)", [cutoff, cutoff]),
        ("pull_request", closed_pr, [cutoff]),
    ]
    quarantined = [r[0] for r in con.execute("SELECT DISTINCT path FROM quarantine").fetchall()]
    expired = expired_raw_files(quarantined, cutoff, {})  # the raw text of unreadable lines is user-level too
    if expired:
        plan.append(("quarantine", "path IN (SELECT unnest(?::VARCHAR[]))", [expired]))
    return plan


# Repo events stay, the people on them go: (table, what is cleared, which rows). Deployments name their creator,
# incidents who opened and who worked them.
SCRUBS = (("deployment", "creator_login = NULL", "created_at < ? AND creator_login IS NOT NULL"),
          ("incident", "author_login = NULL, assignees = NULL",
           "created_at < ? AND (author_login IS NOT NULL OR coalesce(len(assignees), 0) > 0)"))


def recorded_cutoff(con: duckdb.DuckDBPyConnection):
    """The first day past purges kept (the highest user-level cutoff in purge_log), or None before any purge."""
    return con.execute("SELECT max(cutoff) FROM purge_log WHERE action = 'deleted rows'").fetchone()[0]


def reapply(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...], cutoff=...) -> dict[str, int]:
    """Delete again, from `tables` (and quarantine), what past purges removed: rows before the recorded cutoff.

    Ingest calls this in every load transaction, `--full` included, so rows a purge removed never come back
    from raw files that remain (delivery histories, hand imports, raw kept longer than user-level rows). The
    rules are purge's own (`_delete_plan`), at the highest cutoff recorded (`cutoff`: `recorded_cutoff(con)`, read
    here unless the caller read it already). Returns rows deleted per table.
    """
    if cutoff is ...:
        cutoff = recorded_cutoff(con)
    if cutoff is None or not tables:
        return {}
    wanted = set(tables) | {"quarantine"}
    done = {}
    for table, where, args in _delete_plan(con, cutoff, first_kept_period(cutoff), orphans=True):
        if table in wanted:
            done[table] = con.execute(f"DELETE FROM {table} WHERE {where}", args).fetchone()[0]
    for table, cleared, where in SCRUBS:
        if table in wanted:
            done[table] = con.execute(f"UPDATE {table} SET {cleared} WHERE {where}", [cutoff]).fetchone()[0]
    return done


def _existing(con: duckdb.DuckDBPyConnection, kind: str) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND "
                       "table_type = ?", ["VIEW" if kind == "view" else "BASE TABLE"]).fetchall()
    return {r[0] for r in rows}


def _archive(con: duckdb.DuckDBPyConnection, cutoff, first_period: str, dry_run: bool) -> dict:
    """Copy the team aggregates of the days (weeks, months) being purged into archive_* tables, once."""
    views, tables, added = _existing(con, "view"), _existing(con, "table"), {}
    for mart, column in ARCHIVED_MARTS.items():
        if mart not in views:
            continue
        archive = "archive_" + mart.removeprefix("mart_")
        bound = first_period if column == "period" else cutoff
        new = f"SELECT * FROM {mart} m WHERE m.{column} < ?"
        if archive in tables:
            new += f" AND m.{column} NOT IN (SELECT DISTINCT {column} FROM {archive})"
            have = {r[0] for r in con.execute(f"DESCRIBE {archive}").fetchall()}
            for name, kind, *_ in con.execute(f"DESCRIBE {mart}").fetchall():
                if name not in have and not dry_run:  # a mart that gained a column since the last purge
                    con.execute(f'ALTER TABLE {archive} ADD COLUMN "{name}" {kind}')
        elif not dry_run:
            con.execute(f"CREATE TABLE {archive} AS SELECT * FROM {mart} WHERE false")
        if dry_run:
            added[archive] = con.execute(f"SELECT count(*) FROM ({new})", [bound]).fetchone()[0]
        else:
            added[archive] = con.execute(f"INSERT INTO {archive} BY NAME {new}", [bound]).fetchone()[0]
    return added


def purge(con: duckdb.DuckDBPyConnection, retention, as_of, raw_dir: str | Path | None = None,
          dry_run: bool = False, actor: str | None = None) -> PurgeReport:
    """Delete user-level rows and raw files past retention; archive team aggregates first; log it in purge_log.

    Parameters
    ----------
    con : a writable warehouse connection.
    retention : params.retention (`user_level_days`, `raw_days`).
    as_of : the day retention counts back from (normally today).
    raw_dir : the raw zone to purge too (None: the warehouse only).
    dry_run : count what would go, change nothing.
    """
    from .ingest.migrate import PROVENANCE_TABLES
    from .ingest.rawfiles import discover

    cutoff = retention_cutoff(as_of, retention.user_level_days)
    raw_cutoff = retention_cutoff(as_of, retention.raw_days)
    first_period = first_kept_period(cutoff)
    raw_files: list[str] = []
    imports: list[retention_raw.ImportPlan] = []
    if raw_dir is not None:
        raw = Path(raw_dir)
        if not raw.is_dir():
            raise UserError(f"raw zone {raw} is not a folder: pass --raw with the folder `fetch` or `generate` wrote")
        files, _ = discover(raw)
        by_content = [f for f in files if f.rel.startswith("imports/") and f.kind in retention_raw.BY_CONTENT]
        named = [f for f in files if f not in by_content]
        raw_files = expired_raw_files([f.rel for f in named], raw_cutoff, {f.rel: f.kind for f in named})
        imports = retention_raw.plan_imports(by_content, raw_cutoff)
        raw_files += [p.raw.rel for p in imports]  # deleted, or replaced by their rewrite
        if not dry_run:
            retention_raw.write_rewrites(raw, imports)
    plan = _delete_plan(con, cutoff, first_period)
    rows, scrubbed = {}, {}
    con.execute("BEGIN TRANSACTION")
    try:
        archived = _archive(con, cutoff, first_period, dry_run)
        for table, where, args in plan:
            sql = f"{'SELECT count(*) FROM' if dry_run else 'DELETE FROM'} {table} WHERE {where}"
            rows[table] = rows.get(table, 0) + con.execute(sql, args).fetchone()[0]
        for table, cleared, where in SCRUBS:
            scrubbed[table] = con.execute(
                f"SELECT count(*) FROM {table} WHERE {where}" if dry_run else
                f"UPDATE {table} SET {cleared} WHERE {where}", [cutoff]).fetchone()[0]
        if raw_files and not dry_run:
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            retention_raw.repoint(con, imports, PROVENANCE_TABLES, now)
            con.execute("DELETE FROM ingest_file WHERE path IN (SELECT unnest(?::VARCHAR[]))", [raw_files])
            con.execute("DELETE FROM quarantine WHERE path IN (SELECT unnest(?::VARCHAR[]))", [raw_files])
            con.execute("UPDATE raw_file SET purged_at = ? WHERE path IN (SELECT unnest(?::VARCHAR[])) "
                        "AND purged_at IS NULL", [now, raw_files])
        if not dry_run:
            _log(con, as_of, cutoff, raw_cutoff, actor or getpass.getuser(), rows, archived, scrubbed, raw_files)
            warehouse.mark_stale(con)  # the org-wide tables must not keep the rows just purged: dropped
        con.execute("ROLLBACK" if dry_run else "COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    if raw_files and not dry_run:
        _delete_raw(Path(raw_dir), raw_files)
    if not dry_run:
        con.execute("CHECKPOINT")
        from . import cache

        cache.clear(con)  # memoised analyses may hold the rows just purged
    rewritten = [p.raw.rel for p in imports if p.action == "rewrite"]
    return PurgeReport(as_of, cutoff, raw_cutoff, first_period, dry_run, rows, archived, scrubbed, raw_files, rewritten)


def _log(con, as_of, cutoff, raw_cutoff, actor, rows, archived, scrubbed, raw_files) -> None:
    at = datetime.now(timezone.utc).replace(tzinfo=None)
    entries = ([(t, "deleted rows", n, cutoff) for t, n in rows.items()]
               + [(t, "archived team aggregates", n, cutoff) for t, n in archived.items()]
               + [(t, "cleared logins", n, cutoff) for t, n in scrubbed.items()]
               + [(f"raw/{kind}", "deleted raw files", n, raw_cutoff) for kind, n in _by_kind(raw_files).items()])
    con.executemany("INSERT INTO purge_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(at, actor, as_of, cut, target, action, n) for target, action, n, cut in entries])


def _delete_raw(raw: Path, rel_paths: list[str]) -> None:
    folders = set()
    for rel in rel_paths:
        path = raw / rel
        path.unlink(missing_ok=True)
        folders.add(path.parent)
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        while folder != raw and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
