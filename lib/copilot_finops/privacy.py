"""Privacy in the library: pseudonymous ids, k-anonymity, incident-only identity access, and retention (purge).

Every report applies these the same way, so a promise made in docs/PRIVACY.md is kept in one place:

- pseudonyms: a keyed HMAC-SHA256 of the login (case-folded, as GitHub logins are case-insensitive).
  The key comes from `COPILOT_FINOPS_PSEUDONYM_KEY` or a key file created 0600 on first use; the same
  key gives the same pseudonym on every run, and without it a pseudonym cannot be linked to a login.
- k-anonymity: a figure over fewer than k users (1 .. k-1; 0 is no group) is suppressed, and so is a
  total or a difference from which a suppressed group could be recovered by subtraction.
- access: identities only in incident mode, which needs an incident id and a reason and leaves an
  `access_audit` row; notebooks check for that row before they show a login.
- retention: `purge` deletes user-level rows and raw files past their retention, in whole months, after
  archiving the team aggregates of the months it removes, and logs what it removed in `purge_log`.
"""
from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from .errors import UserError

KEY_ENV = "COPILOT_FINOPS_PSEUDONYM_KEY"
MIN_KEY_CHARS = 16
PSEUDONYM_PREFIX = "dev-"
PSEUDONYM_HEX = 12  # 48 bits: no collisions to speak of in an org, nothing to brute-force without the key
INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# -- pseudonymous ids -----------------------------------------------------------------------------------------
def _read_key_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UserError(f"pseudonym key file {path} is readable by others (mode {mode:o}): run `chmod 600 {path}`")
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_CHARS:
        raise UserError(f"pseudonym key file {path} holds fewer than {MIN_KEY_CHARS} characters: delete it to have "
                        "a new one created (pseudonyms then change), or restore the old file")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new random key with 0600 permissions; a concurrent creator wins cleanly (link fails, we read theirs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode() + b"\n")
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and never overwrites: readers never see a half-written key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def pseudonym_key(key_file: str | Path = ".pseudonym.key", environ: dict | None = None) -> bytes:
    """The pseudonym key: `COPILOT_FINOPS_PSEUDONYM_KEY` if set, else `key_file`, created 0600 on first use.

    Raises UserError when the key is too short or the key file is readable by group or others.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(KEY_ENV)
    if value:
        if len(value) < MIN_KEY_CHARS:
            raise UserError(f"{KEY_ENV} is shorter than {MIN_KEY_CHARS} characters: use a long random value, "
                            "e.g. `openssl rand -hex 32`")
        return value.encode()
    path = Path(key_file)
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)


def key_for(params, params_dir: str | Path, environ: dict | None = None) -> bytes:
    """The key for an org: a relative `privacy.pseudonym_key_file` is taken from the folder holding the params folder.

    So reports run from the project folder and a notebook opened in `notebooks/` use the same key.
    """
    key_file = Path(params.privacy.pseudonym_key_file)
    if not key_file.is_absolute():
        key_file = Path(params_dir).resolve().parent / key_file
    return pseudonym_key(key_file, environ)


def pseudonym(login: str, key: bytes | None = None) -> str:
    """'dev-' + 12 hex digits of HMAC-SHA256(key, login case-folded): stable per key, unlinkable without it.

    `key` defaults to `pseudonym_key()` (the environment, else `.pseudonym.key` in the working folder).
    """
    key = key or pseudonym_key()
    digest = hmac.new(key, str(login).casefold().encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX]


def person_labels(logins: pd.Series, key: bytes, detail: bool = False) -> pd.Series:
    """How a report names people: pseudonyms by default, logins only in (audited) incident mode."""
    if detail:
        return logins.astype("string")
    return logins.map(lambda login: pseudonym(login, key) if isinstance(login, str) and login else pd.NA).astype("string")


# -- k-anonymity ----------------------------------------------------------------------------------------------
def small_group(users, k: int):
    """True where a count of users is a group too small to show (1 .. k-1); works on scalars and Series."""
    return (users > 0) & (users < k)


def suppressed_label(k: int) -> str:
    return f"suppressed (< {k})"


def suppress(frame: pd.DataFrame, users_column: str, k: int, columns: list[str] | None = None,
             also: pd.Series | None = None) -> pd.DataFrame:
    """Blank (NaN) the figures of rows over fewer than `k` users, and mark them in a `suppressed` column.

    Parameters
    ----------
    frame : one row per group, with a count of users in `users_column`.
    columns : the figures to blank (default: every numeric column); the users column is always blanked.
    also : extra rows to suppress (boolean Series aligned to `frame`), e.g. totals that would reveal a group.
    """
    out = frame.copy()
    hide = small_group(out[users_column].fillna(0), k)
    if "suppressed" in out:
        hide = hide | out["suppressed"].fillna(False).astype(bool)
    if also is not None:
        hide = hide | also.reindex(out.index).fillna(False).astype(bool)
    if columns is None:
        columns = [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c])]
    for c in dict.fromkeys(list(columns) + [users_column]):
        out[c] = out[c].astype("float64")
        out.loc[hide, c] = float("nan")
    out["suppressed"] = hide.astype(bool)
    return out


def change(current, previous):
    """Difference between two figures; unknown (NaN) when either side is suppressed, so it reveals nothing."""
    if isinstance(current, pd.Series) or isinstance(previous, pd.Series):
        return current - previous  # NaN propagates element-wise
    if current is None or previous is None or current != current or previous != previous:
        return float("nan")
    return current - previous


USER_COUNT_COLUMN = re.compile(r"(users|developers|members|people|seats|joiners|leavers)", re.IGNORECASE)


def k_violations(frame: pd.DataFrame, k: int, columns: list[str] | None = None) -> list[tuple[str, object, float]]:
    """Cells of user-count columns holding 1 .. k-1: (column, row label, value). Empty when the frame is safe."""
    columns = columns if columns is not None else [c for c in frame.columns if USER_COUNT_COLUMN.search(str(c))]
    found = []
    for c in columns:
        values = pd.to_numeric(frame[c], errors="coerce")
        for idx, v in values[small_group(values.fillna(0), k)].items():
            found.append((str(c), idx, float(v)))
    return found


# -- incident-only access to identities -----------------------------------------------------------------------
@dataclass(frozen=True)
class IncidentAccess:
    """A request to see identities: which incident, why, and who asked (the OS user)."""

    incident_id: str
    reason: str
    actor: str

    @property
    def notice(self) -> str:
        """The banner on every page of the output."""
        return (f"incident {self.incident_id}: identities shown for incident response only; "
                f"access by {self.actor} recorded in access_audit")


def incident_access(incident: str | None, reason: str | None, actor: str | None = None) -> IncidentAccess:
    """Validate an incident-mode request. Raises UserError when the incident id or the reason is missing."""
    if not incident or not INCIDENT_ID.match(str(incident)) or ".." in str(incident):
        raise UserError(f"--incident {incident!r}: give the incident id identities are needed for "
                        "(letters, digits, '.', '_' and '-', e.g. INC-2031)")
    if not reason or len(str(reason).strip()) < 10:
        raise UserError("--reason is required in incident mode: say in a sentence why identities are needed "
                        "(at least 10 characters); it is kept in the access_audit table")
    return IncidentAccess(str(incident), str(reason).strip(), actor or getpass.getuser())


def record_access(con: duckdb.DuckDBPyConnection, access: IncidentAccess, scope: str, output: str,
                  at: datetime | None = None) -> None:
    """Write one `access_audit` row (needs a writable connection)."""
    at = at or datetime.now(timezone.utc).replace(tzinfo=None)
    con.execute("INSERT INTO access_audit VALUES (?, ?, ?, ?, ?, ?)",
                [at, access.actor, access.incident_id, access.reason, scope, output])


def identities_allowed(con: duckdb.DuckDBPyConnection, detail, incident) -> bool:
    """For notebooks: may this run show logins? Only with detail on, an incident id, and its access_audit row.

    Raises UserError when detail is asked for without an incident, or without the audit row that
    `report --detail --incident ID --reason TEXT` writes: running the notebook by hand does not bypass the audit.
    """
    if not detail:
        return False
    if not incident:
        raise UserError("detail mode needs an incident id: use `copilot-finops report --detail --incident ID --reason TEXT`")
    found = con.execute("SELECT count(*) FROM access_audit WHERE incident_id = ?", [str(incident)]).fetchone()[0]
    if not found:
        raise UserError(f"no access_audit row for incident {incident!r}: identities are shown only through "
                        "`copilot-finops report --detail --incident ID --reason TEXT`, which records the access")
    return True


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
PURGE_LOG_DDL = """CREATE TABLE IF NOT EXISTS purge_log (
    purged_at TIMESTAMP NOT NULL, actor VARCHAR, as_of DATE, cutoff DATE, target VARCHAR, action VARCHAR, count BIGINT)"""
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

    def as_dict(self) -> dict:
        return {"as_of": str(self.as_of), "user_cutoff": str(self.user_cutoff), "raw_cutoff": str(self.raw_cutoff),
                "first_kept_period": self.first_kept_period, "dry_run": self.dry_run, "rows": self.rows,
                "archived": self.archived, "scrubbed": self.scrubbed, "raw_files": len(self.raw_files),
                "raw_files_by_kind": _by_kind(self.raw_files)}


def _by_kind(paths: list[str]) -> dict:
    from .ingest import _kind_of

    counts: dict[str, int] = {}
    for rel in paths:
        kind = _kind_of(tuple(rel.split("/")))[0] or "other"
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def expired_raw_files(rel_paths: list[str], cutoff, kinds: dict[str, str]) -> list[str]:
    """Raw-zone paths past retention: dated before `cutoff`, monthly files of months before the first kept month.

    The latest seats and teams snapshot on or before the cutoff is kept: it says who held a seat and who was on
    which team on the first days kept. Files without a date in their path (delivery histories, hand imports)
    are kept. `kinds` maps each path to its kind.
    """
    first_month = first_kept_period(cutoff)
    snapshot_keep: dict[str, str] = {}
    for rel in rel_paths:
        m = _PATH_DAY.search(rel)
        if kinds.get(rel) in ("seats", "teams") and m and m.group(1) <= str(cutoff):
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


def _delete_plan(con: duckdb.DuckDBPyConnection, cutoff, first_period: str) -> list[tuple[str, str, list]]:
    """(table, WHERE condition, arguments) for every user-level deletion, children before parents."""
    def latest_on_or_before(table: str, column: str):
        return con.execute(f"SELECT max({column}) FROM {table} WHERE {column} <= ?", [cutoff]).fetchone()[0]

    roster_keep = latest_on_or_before("team_member", "snapshot_day") or cutoff
    seat_keep = latest_on_or_before("seat", "snapshot_day") or cutoff
    closed_pr = "coalesce(merged_at, closed_at) < ?"
    plan = [(t, "day < ?", [cutoff]) for t in DAY_TABLES]
    plan += [
        ("team_member", "snapshot_day < ?", [roster_keep]),
        # A leaver's last row stays while the cancelled seat is still billed on days kept.
        ("seat", "snapshot_day < ? AND NOT (coalesce(pending_cancellation_date >= ?, false) AND snapshot_day = "
                 "(SELECT max(x.snapshot_day) FROM seat x WHERE x.user_id = seat.user_id))", [seat_keep, cutoff]),
        ("credit_usage", "user_login <> '' AND period < ?", [first_period]),
        ("review", f"(repo, number) IN (SELECT (repo, number) FROM pull_request WHERE {closed_pr})", [cutoff]),
        ("pull_request_file", f"(repo, number) IN (SELECT (repo, number) FROM pull_request WHERE {closed_pr})", [cutoff]),
        ("pull_request", closed_pr, [cutoff]),
    ]
    quarantined = [r[0] for r in con.execute("SELECT DISTINCT path FROM quarantine").fetchall()]
    expired = expired_raw_files(quarantined, cutoff, {})  # the raw text of unreadable lines is user-level too
    if expired:
        plan.append(("quarantine", "path IN (SELECT unnest(?::VARCHAR[]))", [expired]))
    return plan


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
    from .ingest import discover

    cutoff = retention_cutoff(as_of, retention.user_level_days)
    raw_cutoff = retention_cutoff(as_of, retention.raw_days)
    first_period = first_kept_period(cutoff)
    raw_files: list[str] = []
    if raw_dir is not None:
        raw = Path(raw_dir)
        if not raw.is_dir():
            raise UserError(f"raw zone {raw} is not a folder: pass --raw with the folder `fetch` or `generate` wrote")
        files, _ = discover(raw)
        raw_files = expired_raw_files([f.rel for f in files], raw_cutoff, {f.rel: f.kind for f in files})
    plan = _delete_plan(con, cutoff, first_period)
    scrub = ("deployment", "created_at < ? AND creator_login IS NOT NULL", [cutoff])
    rows, scrubbed = {}, {}
    con.execute("BEGIN TRANSACTION")
    try:
        archived = _archive(con, cutoff, first_period, dry_run)
        for table, where, args in plan:
            sql = f"{'SELECT count(*) FROM' if dry_run else 'DELETE FROM'} {table} WHERE {where}"
            rows[table] = rows.get(table, 0) + con.execute(sql, args).fetchone()[0]
        table, where, args = scrub
        scrubbed[table] = con.execute(
            f"SELECT count(*) FROM {table} WHERE {where}" if dry_run else
            f"UPDATE {table} SET creator_login = NULL, record = json_merge_patch(record, '{{\"creator\": null}}') "
            f"WHERE {where}", args).fetchone()[0]
        if raw_files and not dry_run:
            con.execute("DELETE FROM ingest_file WHERE path IN (SELECT unnest(?::VARCHAR[]))", [raw_files])
        if not dry_run:
            _log(con, as_of, cutoff, raw_cutoff, actor or getpass.getuser(), rows, archived, scrubbed, raw_files)
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
    return PurgeReport(as_of, cutoff, raw_cutoff, first_period, dry_run, rows, archived, scrubbed, raw_files)


def _log(con, as_of, cutoff, raw_cutoff, actor, rows, archived, scrubbed, raw_files) -> None:
    con.execute(PURGE_LOG_DDL)
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
