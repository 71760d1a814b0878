"""The memo beside the warehouse: reused while the warehouse is unchanged, never after a change."""
from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pandas as pd
import pytest

from copilot_finops.period import parse_period
from copilot_finops import budget, cache, cost, patterns, retention, warehouse
from copilot_finops.params import Retention, load_params

from conftest import ROOT


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self) -> pd.DataFrame:
        self.calls += 1
        return pd.DataFrame({"call": [self.calls]})


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse.connect(path).close()
    return path


def test_an_entry_is_reused_until_the_key_or_the_warehouse_changes(db):
    compute = Counter()
    con = warehouse.connect(db, read_only=True)
    first = cache.memo(con, "thing", ("2026-10",), compute)
    again = cache.memo(con, "thing", ("2026-10",), compute)
    assert compute.calls == 1 and again.equals(first)
    cache.memo(con, "thing", ("2026-09",), compute)  # another key
    assert compute.calls == 2
    con.close()

    con = warehouse.connect(db)  # an ingest, purge or any write changes the file
    con.execute("INSERT INTO warehouse_meta VALUES ('touched', 'yes')")
    con.execute("CHECKPOINT")
    assert cache.memo(con, "thing", ("2026-10",), compute)["call"].item() == 3
    con.close()
    # entries of the older warehouse state are gone: they may hold rows a purge removed
    assert len(list((db.parent / "w.duckdb.cache").glob("*.pkl"))) == 1


def test_a_torn_entry_is_recomputed_and_the_memo_can_be_turned_off(db, monkeypatch):
    compute = Counter()
    con = warehouse.connect(db, read_only=True)
    cache.memo(con, "thing", 1, compute)
    for entry in (db.parent / "w.duckdb.cache").glob("*.pkl"):
        entry.write_bytes(b"\x80\x05 torn")
    assert cache.memo(con, "thing", 1, compute)["call"].item() == 2
    monkeypatch.setenv("COPILOT_FINOPS_CACHE", "0")
    cache.memo(con, "thing", 1, compute)
    cache.memo(con, "thing", 1, compute)
    assert compute.calls == 4
    assert cache.clear(con) == 1 and not (db.parent / "w.duckdb.cache").exists()
    con.close()


def test_a_memoised_function_is_keyed_by_all_its_arguments(db):
    calls = []

    @cache.memoised("sum")
    def total(con, period, params, months: int = 3):
        calls.append((period, months))
        return months

    params = load_params(ROOT / "params")
    con = warehouse.connect(db, read_only=True)
    assert total(con, "2026-10", params) == 3
    assert total(con, "2026-10", params, months=3) == 3  # the default is part of the key: the same entry
    assert total(con, "2026-10", params, 2) == 2
    assert total(con, "2026-09", params) == 3
    assert total(con, "2026-10", params.model_copy(update={"currency": "EUR"})) == 3  # other params
    con.close()
    assert calls == [("2026-10", 3), ("2026-10", 2), ("2026-09", 3), ("2026-10", 3)]


def test_an_in_memory_database_is_never_memoised():
    compute = Counter()
    con = duckdb.connect()
    cache.memo(con, "thing", 1, compute)
    cache.memo(con, "thing", 1, compute)
    assert compute.calls == 2


def test_memoised_org_frames_equal_fresh_ones(small_demo, tmp_path, monkeypatch):
    """What a team notebook reads from the memo is what it would have computed itself."""
    db = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, db)
    params = load_params(ROOT / "params")
    period = parse_period("2026-10")

    def frames():
        con = warehouse.connect(db, read_only=True)
        try:
            report = budget.evaluate_guardrails(con, period, params)
            history = cost.team_costs_history(con, period, params, months=3)
            return patterns.org_team_weeks(con, params, period), report.rows, history
        finally:
            con.close()

    monkeypatch.setenv("COPILOT_FINOPS_CACHE", "0")
    fresh_weeks, fresh_rows, fresh_history = frames()
    monkeypatch.delenv("COPILOT_FINOPS_CACHE")
    frames()  # fills the memo
    memo_weeks, memo_rows, memo_history = frames()  # reads it
    assert len(list((tmp_path / "w.duckdb.cache").glob("*-org-team-weeks-*.pkl"))) == 1
    assert len(list((tmp_path / "w.duckdb.cache").glob("*-guardrails-*.pkl"))) == 1
    assert len(list((tmp_path / "w.duckdb.cache").glob("*-team-costs-history-*.pkl"))) == 1
    assert not fresh_weeks.empty
    pd.testing.assert_frame_equal(memo_weeks, fresh_weeks)
    pd.testing.assert_frame_equal(memo_rows, fresh_rows)
    pd.testing.assert_frame_equal(memo_history, fresh_history)


def test_purge_clears_the_memo(small_demo, tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, db)
    shutil.copytree(small_demo.raw, tmp_path / "raw")
    params = load_params(ROOT / "params")
    con = warehouse.connect(db)
    patterns.org_team_weeks(con, params, parse_period("2026-10"))
    assert (tmp_path / "w.duckdb.cache").is_dir()
    retention.purge(con, Retention(user_level_days=30, raw_days=30), date(2026, 11, 5), tmp_path / "raw")
    con.close()
    assert not (tmp_path / "w.duckdb.cache").exists()
