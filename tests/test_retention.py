"""Retention that stays done: after a purge, no ingest (--full included) brings back what it removed, and files
brought in with `import` are purged by the days they hold."""
from __future__ import annotations

import json
import shutil
from datetime import date

import duckdb
import pytest

from copilot_finops import retention as retention_mod
from copilot_finops import warehouse
from copilot_finops.cli import main
from copilot_finops.ingest import ingest_raw
from copilot_finops.ingest.provenance import source_record
from copilot_finops.params import Retention
from copilot_finops.errors import UserError
from test_ingest import _contents, _user, _write

AS_OF = date(2026, 11, 5)


def _past_cutoff(con, cutoff) -> dict[str, int]:
    """User-level rows purge removes that are still there, per table (all zero after a purge)."""
    first_period = retention_mod.first_kept_period(cutoff)
    checks = {t: f"SELECT count(*) FROM {t} WHERE day < $c" for t in retention_mod.DAY_TABLES}
    checks.update({
        "pull_request": "SELECT count(*) FROM pull_request WHERE coalesce(merged_at, closed_at) < $c",
        "review": "SELECT count(*) FROM review WHERE (repo, number) NOT IN (SELECT (repo, number) FROM pull_request "
                  "WHERE coalesce(merged_at, closed_at, $c) >= $c)",  # reviews of pull requests closed before, or gone
        "deployment creators": "SELECT count(*) FROM deployment WHERE created_at < $c AND creator_login IS NOT NULL",
        "incident people": "SELECT count(*) FROM incident WHERE created_at < $c "
                           "AND (author_login IS NOT NULL OR coalesce(len(assignees), 0) > 0)",
        "credit_usage": "SELECT count(*) FROM credit_usage WHERE user_login <> '' AND period < $p",
    })
    return {name: con.execute(sql.replace("$p", f"'{first_period}'"), {"c": cutoff} if "$c" in sql else {}).fetchone()[0]
            for name, sql in checks.items()}


def test_a_full_reingest_after_purge_brings_nothing_back(small_demo, tmp_path):
    """Raw files kept longer than user-level rows (and delivery histories, which have no day) are read again
    by `ingest --full`: the purge's cutoff holds for them."""
    shutil.copytree(small_demo.raw, tmp_path / "raw")
    db = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, db)
    con = warehouse.connect(db)
    cutoff = retention_mod.retention_cutoff(AS_OF, 30)
    assert all(_past_cutoff(con, date(2100, 1, 1)).values())  # every check has rows to find before the purge
    retention_mod.purge(con, Retention(user_level_days=30, raw_days=400), AS_OF, tmp_path / "raw")
    assert not any(_past_cutoff(con, cutoff).values())
    con.close()
    purged = _contents(db)
    full = ingest_raw(tmp_path / "raw", db, full=True)
    assert full.files_ingested == full.files_seen > 100
    con = warehouse.connect(db, read_only=True)
    assert not any(_past_cutoff(con, cutoff).values())
    con.close()
    assert _contents(db) == purged  # nothing came back, nothing else moved


def _import(tmp_path, name: str, records: list[dict]) -> None:
    src = _write(tmp_path / "downloads" / name, "".join(json.dumps(r) + "\n" for r in records))
    assert main(["import", "--kind", "users-1-day", str(src), "--raw", str(tmp_path / "raw"),
                 "--warehouse", str(tmp_path / "w.duckdb")]) == 0


def test_imports_are_purged_by_the_days_they_hold(tmp_path, capsys):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _import(tmp_path, "old.ndjson", [_user(user_id=1, day="2026-08-03"), _user(user_id=2, day="2026-08-04")])
    both = [_user(user_id=1, day="2026-08-05"), _user(user_id=3, day="2026-10-06"), _user(user_id=1, day="2026-09-01"),
            _user(user_id=4, day="2026-10-07")]
    _import(tmp_path, "export-2026-10-30.ndjson", both)  # a name with a day that is not what it holds
    capsys.readouterr()
    con = warehouse.connect(db)
    report = retention_mod.purge(con, Retention(user_level_days=30, raw_days=30), AS_OF, raw)
    con.close()
    cutoff = report.raw_cutoff
    files = sorted(p.relative_to(raw).as_posix() for p in (raw / "imports").rglob("*") if p.is_file())
    assert len(files) == 1 and files[0].endswith("/export-2026-10-30.ndjson") and report.raw_rewritten
    kept = [json.loads(line) for line in (raw / files[0]).read_text().splitlines()]
    assert [r["user_id"] for r in kept] == [3, 4] and all(r["day"] >= str(cutoff) for r in kept)
    con = duckdb.connect(str(db), read_only=True)
    # the rows kept point to their line in the rewritten file, byte for byte
    rec = source_record(con, "users-1-day", day="2026-10-07", user="4")
    assert (rec.path, rec.line) == (files[0], 2) and rec.text == json.dumps(both[3]).encode()
    con.close()
    full = ingest_raw(raw, db, full=True)
    assert full.files_seen == 1
    assert _rows_before(db, cutoff) == 0 and _user_ids(db) == [3, 4]


def _rows_before(db, cutoff) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM user_day WHERE day < ?", [cutoff]).fetchone()[0]
    finally:
        con.close()


def _user_ids(db) -> list[int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT user_id FROM user_day ORDER BY user_id").fetchall()]
    finally:
        con.close()


def test_show_record_says_when_purge_took_the_raw_file_or_the_row(small_demo, tmp_path, capsys):
    shutil.copytree(small_demo.raw, tmp_path / "raw")
    db = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, db)
    con = warehouse.connect(db)
    login, day = con.execute("SELECT user_login, day::VARCHAR FROM user_day WHERE day = '2026-10-12' LIMIT 1").fetchone()
    # raw files are kept 30 days and user-level rows 60: the row stays, its raw file goes
    report = retention_mod.purge(con, Retention(user_level_days=60, raw_days=30), date(2026, 12, 10), tmp_path / "raw")
    assert str(report.user_cutoff) < day < str(report.raw_cutoff)
    with pytest.raises(UserError, match=r"was deleted by purge on \d{4}-\d{2}-\d{2} \(retention\)"):
        source_record(con, "users-1-day", day=day, user=login)
    con.close()
    args = ["show-record", "--kind", "users-1-day", "--warehouse", str(db), "--user", login]
    assert main(args + ["--day", day]) == 2
    assert "deleted by purge" in capsys.readouterr().err
    assert main(args + ["--day", "2026-09-14"]) == 2  # the row itself went with the user-level cutoff
    assert f"rows before {report.user_cutoff} were deleted by purge" in capsys.readouterr().err
