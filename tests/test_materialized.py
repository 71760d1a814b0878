"""The org-wide views the warehouse keeps as tables (`-- materialized: table`): after an ingest, a new day and a purge
each table holds exactly what its view's SQL computes from the tables under it, and a warehouse whose refresh did not
happen is refused rather than read."""
from __future__ import annotations

import shutil
from datetime import date

import pytest

from copilot_finops import retention as retention_mod
from copilot_finops import warehouse
from copilot_finops.errors import UserError
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


def test_after_ingest_each_table_holds_what_its_view_defines(small_demo):
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        assert all(con.execute(f"SELECT count(*) FROM {v.table}").fetchone()[0] > 0 for v in MATERIALIZED)
        assert _out_of_step(con) == {v.name: 0 for v in MATERIALIZED}
    finally:
        con.close()


def test_a_new_day_and_a_purge_reach_the_tables_before_a_report_reads_them(small_demo, tmp_path):
    last = date(2026, 10, 31)
    shutil.copytree(small_demo.raw, tmp_path / "raw")
    held_back = tmp_path / "held-back"
    for kind in ("users-1-day", "user-teams-1-day"):
        shutil.move(tmp_path / "raw" / "metrics" / kind / last.isoformat(), held_back / kind)
    db = tmp_path / "w.duckdb"
    ingest_raw(tmp_path / "raw", db)
    for kind in ("users-1-day", "user-teams-1-day"):
        shutil.move(held_back / kind, tmp_path / "raw" / "metrics" / kind / last.isoformat())
    ingest_raw(tmp_path / "raw", db)  # the next day arrives
    con = warehouse.connect(db, read_only=True)
    try:
        assert con.execute("SELECT max(day) FROM int_user_day_usage").fetchone()[0] == last
        assert con.execute("SELECT count(*) FROM int_team_member_day WHERE day = ?", [last]).fetchone()[0] > 0
        assert _out_of_step(con) == {v.name: 0 for v in MATERIALIZED}
    finally:
        con.close()

    con = warehouse.connect(db)
    try:
        retention_mod.purge(con, Retention(user_level_days=30, raw_days=400), date(2026, 11, 5))
        cutoff = retention_mod.retention_cutoff(date(2026, 11, 5), 30)
        for table in ("mat_int_user_day_usage", "mat_int_team_member_day", "mat_int_cost_user_day"):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE day < ?", [cutoff]).fetchone()[0] == 0
        assert _out_of_step(con) == {v.name: 0 for v in MATERIALIZED}
    finally:
        con.close()


def test_a_warehouse_whose_refresh_did_not_happen_is_refused_until_ingest_runs(small_demo, tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, db)
    con = warehouse.connect(db)
    warehouse.mark_stale(con)  # as an ingest that stopped after its first load leaves it
    con.close()
    with pytest.raises(UserError, match=r"out of date.*copilot-finops ingest"):
        warehouse.connect(db, read_only=True)
    summary = ingest_raw(small_demo.raw, db)
    assert summary.files_ingested == 0  # nothing new to read: the refresh alone
    con = warehouse.connect(db, read_only=True)
    try:
        assert _out_of_step(con) == {v.name: 0 for v in MATERIALIZED}
    finally:
        con.close()
