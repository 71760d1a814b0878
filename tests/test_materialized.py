"""The org-wide views the warehouse can keep as tables (`-- materialized: table`): a cache for the report fan-out.
Ingest, purge and a team-source change point the views back at their SQL and drop the tables (a daily ingest stays
cheap, no purged row lingers); a report run fills them once. At every step each view gives what its SQL computes."""
from __future__ import annotations

import shutil
from datetime import date

from copilot_finops import retention as retention_mod
from copilot_finops import warehouse
from copilot_finops.ingest import ingest_raw
from copilot_finops.params import Retention

MATERIALIZED = [v for v in warehouse.views() if v.materialized]


def _out_of_step(con) -> dict[str, int]:
    """Per materialized view: rows its table has that its SQL, computed now, does not, plus the other way round."""
    out = {}
    for view in MATERIALIZED:
        fresh = f"SELECT * FROM (\n{view.sql}\n)"
        out[view.name] = con.execute(
            f"SELECT (SELECT count(*) FROM ({fresh} EXCEPT ALL SELECT * FROM {view.table})) "
            f"+ (SELECT count(*) FROM (SELECT * FROM {view.table} EXCEPT ALL {fresh}))").fetchone()[0]
    return out


def test_the_membership_usage_and_cost_views_are_kept_as_tables():
    names = {v.name for v in MATERIALIZED}
    assert {"int_team_member_day", "int_user_day_usage", "int_cost_user_day", "int_cost_seat_day",
            "mart_team_month_cost"} <= names
    assert all(v.table == "mat_" + v.name for v in MATERIALIZED)


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'mat_')"
                                      ).fetchall()}


def _reads_tables(con) -> bool:
    """Whether every materialized view now reads its table (rather than its SQL)."""
    sql = dict(con.execute("SELECT view_name, sql FROM duckdb_views()").fetchall())
    return all(v.table in sql[v.name] for v in MATERIALIZED)


def test_a_report_run_fills_the_tables_each_as_its_view_defines(small_demo, tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, db)
    con = warehouse.connect(db)
    warehouse.mark_stale(con)  # as an ingest leaves it
    before = {v.name: con.execute(f"SELECT count(*) FROM {v.name}").fetchone()[0] for v in MATERIALIZED}
    assert not _tables(con) and not _reads_tables(con)
    con.close()
    assert warehouse.refresh_if_stale(db) is not None  # what `copilot-finops report` does first
    assert warehouse.refresh_if_stale(db) is None  # current: nothing to do
    con = warehouse.connect(db, read_only=True)
    try:
        assert _tables(con) == {v.table for v in MATERIALIZED} and _reads_tables(con)
        assert all(con.execute(f"SELECT count(*) FROM {v.table}").fetchone()[0] > 0 for v in MATERIALIZED)
        assert _out_of_step(con) == {v.name: 0 for v in MATERIALIZED}
        assert {v.name: con.execute(f"SELECT count(*) FROM {v.name}").fetchone()[0] for v in MATERIALIZED} == before
    finally:
        con.close()


def test_a_new_day_and_a_purge_drop_the_tables_and_every_view_stays_right(small_demo, tmp_path):
    last = date(2026, 10, 31)
    shutil.copytree(small_demo.raw, tmp_path / "raw")
    held_back = tmp_path / "held-back"
    for kind in ("users-1-day", "user-teams-1-day"):
        shutil.move(tmp_path / "raw" / "metrics" / kind / last.isoformat(), held_back / kind)
    db = tmp_path / "w.duckdb"
    ingest_raw(tmp_path / "raw", db)
    warehouse.refresh_if_stale(db)
    for kind in ("users-1-day", "user-teams-1-day"):
        shutil.move(held_back / kind, tmp_path / "raw" / "metrics" / kind / last.isoformat())
    ingest_raw(tmp_path / "raw", db)  # the next day arrives
    con = warehouse.connect(db, read_only=True)
    try:
        assert not _tables(con) and not _reads_tables(con)  # the new day reads through the views' SQL at once
        assert con.execute("SELECT max(day) FROM int_user_day_usage").fetchone()[0] == last
        assert con.execute("SELECT count(*) FROM int_team_member_day WHERE day = ?", [last]).fetchone()[0] > 0
    finally:
        con.close()
    warehouse.refresh_if_stale(db)
    con = warehouse.connect(db)
    try:
        assert _out_of_step(con) == {v.name: 0 for v in MATERIALIZED}
        retention_mod.purge(con, Retention(user_level_days=30, raw_days=400), date(2026, 11, 5))
        cutoff = retention_mod.retention_cutoff(date(2026, 11, 5), 30)
        assert not _tables(con)  # no purged row kept in a table
        for view in ("int_user_day_usage", "int_team_member_day", "int_cost_user_day"):
            assert con.execute(f"SELECT count(*) FROM {view} WHERE day < ?", [cutoff]).fetchone()[0] == 0
    finally:
        con.close()
    warehouse.refresh_if_stale(db)
    con = warehouse.connect(db, read_only=True)
    try:
        assert _reads_tables(con) and _out_of_step(con) == {v.name: 0 for v in MATERIALIZED}
    finally:
        con.close()
