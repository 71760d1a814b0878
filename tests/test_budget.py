"""Guardrails: the month-end forecast, stages and crossing dates, the params that drive them, and the command."""
from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from copilot_finops.period import parse_period
from copilot_finops import bill, budget, budget_chart, cost, forecast, warehouse
from copilot_finops.cli import main
from copilot_finops.errors import UserError
from copilot_finops.params import load_params

from test_cost import PARAMS_DIR, SEAT, org_params

OCT = parse_period("2026-10")


def series(first: date, days: int, value) -> pd.Series:
    index = [first + timedelta(days=i) for i in range(days)]
    return pd.Series([float(value(d, i)) for i, d in enumerate(index)], index=index)


def weekends(first: date, last: date) -> set[date]:
    return {first + timedelta(days=i) for i in range((last - first).days + 1) if (first + timedelta(days=i)).weekday() >= 5}


# -- forecasting ----------------------------------------------------------------------------------------------
def test_a_steady_weekday_rhythm_is_forecast_exactly():
    history = series(date(2026, 8, 3), 56, lambda d, i: 10 if d.weekday() >= 5 else 100)  # starts on a Monday
    future = [date(2026, 9, 28) + timedelta(days=i) for i in range(7)]  # Monday to Sunday
    fc = forecast.forecast_days(history, future, weekends(date(2026, 8, 1), date(2026, 10, 31)))
    assert fc.expected.tolist() == pytest.approx([100] * 5 + [10, 10])
    assert fc.sd.max() == pytest.approx(0.0, abs=1e-6)
    assert fc.cumulative(500.0).iloc[-1] == pytest.approx(500 + 520)


def test_holidays_forecast_at_the_off_day_level():
    history = series(date(2026, 8, 3), 56, lambda d, i: 0 if d.weekday() >= 5 else 50)
    future = [date(2026, 9, 28), date(2026, 9, 29)]
    off = weekends(date(2026, 8, 1), date(2026, 10, 31)) | {date(2026, 9, 29)}
    assert forecast.forecast_days(history, future, off).expected.tolist() == pytest.approx([50, 0])


def test_the_trend_is_carried_forward_damped():
    history = series(date(2026, 8, 3), 56, lambda d, i: 100 + 2 * i)  # every day a workday, growing 2 a day
    future = [date(2026, 9, 28) + timedelta(days=i) for i in range(5)]
    full = forecast.forecast_days(history, future, set(), damping=1.0).expected
    flat = forecast.forecast_days(history, future, set(), damping=0.0).expected
    half = forecast.forecast_days(history, future, set(), damping=0.5).expected
    assert full.tolist() == pytest.approx([100 + 2 * (56 + k) for k in range(5)])  # the straight line, extended
    assert flat.tolist() == pytest.approx([100 + 2 * 27.5] * 5)  # the window's mean
    assert all(flat < half) and all(half < full)


def test_the_interval_widens_with_the_horizon_and_never_falls_below_what_is_spent():
    rng = np.random.default_rng(3)
    history = series(date(2026, 8, 3), 56, lambda d, i: rng.poisson(80))
    future = [date(2026, 9, 28) + timedelta(days=i) for i in range(20)]
    fc = forecast.forecast_days(history, future, set(), coverage=0.8)
    assert (np.diff(fc.sd.to_numpy()) > 0).all()
    low, high = fc.cumulative(1000.0, -1.0), fc.cumulative(1000.0, 1.0)
    assert (low >= 1000.0).all() and (np.diff(low.to_numpy()) >= 0).all() and (high > low).all()
    assert fc.z == pytest.approx(1.2816, abs=1e-4)


def test_an_idle_history_forecasts_nothing():
    fc = forecast.forecast_days(series(date(2026, 9, 1), 20, lambda d, i: 0), [date(2026, 9, 21)], set())
    assert fc.total == 0 and fc.sd.iloc[0] == 0


def test_quiet_workdays_are_taken_for_unlisted_holidays():
    active = series(date(2026, 9, 1), 21, lambda d, i: 3 if d == date(2026, 9, 7) else (2 if d.weekday() >= 5 else 40))
    off = weekends(date(2026, 9, 1), date(2026, 9, 21))
    assert forecast.quiet_days(active, off) == {date(2026, 9, 7)}


def test_stage_and_crossing_dates():
    assert budget.stage_of(0.59, [0.6, 0.8, 0.95]) is None
    assert budget.stage_of(0.8, [0.6, 0.8, 0.95]) == 0.8
    assert budget.stage_of(1.2, [0.6, 0.8, 0.95]) == 0.95
    path = pd.Series([10.0, 50.0, 70.0], index=[date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)])
    assert budget.crossing_date(path, 50.0) == date(2026, 10, 2)
    assert budget.crossing_date(path, 71.0) is None
    assert budget.pct_floor(0.7999) == "79%"


# -- guardrails on the hand-built org ----------------------------------------------------------------------------
def tiny_params(**extra):
    return org_params(budgets={"teams": {"alpha": {"monthly_credits": 200}, "beta": {"monthly_usd": 50}},
                               "segments": {"platform_sre": {"monthly_credits": 400}}}, **extra)


def test_month_end_burn_stages_and_dates_of_the_hand_built_org(tiny):
    report = budget.evaluate_guardrails(tiny, OCT, tiny_params(), as_of=date(2026, 10, 31))
    rows = {(r["scope"], r["name"]): r for r in report.rows.to_dict("records")}
    alpha = rows[("team", "alpha")]
    # alpha's credits: 100 on 10-05, 50 on 10-12, 30 on 10-15 (u3's 10-25 is after leaving the team)
    assert alpha["burn_to_date"] == pytest.approx(180) and alpha["forecast"] == pytest.approx(180)
    assert alpha["stage"] == 0.8 and alpha["stage_status"] == "reached"
    dates = {c["threshold"]: c["reached_on"] for c in alpha["crossings"]}
    assert dates == {0.6: date(2026, 10, 12), 0.8: date(2026, 10, 15), 0.95: None}  # 120 and 160 credits
    assert alpha["actions"] == tiny_params().guardrails.actions_for(0.8)
    beta = rows[("team", "beta")]  # money: two full seats at 19 USD, no credit cost inside the pool
    assert beta["unit"] == "usd" and beta["burn_to_date"] == pytest.approx(38.0) and beta["stage"] == 0.6
    assert rows[("segment", "platform_sre")]["burn_to_date"] == pytest.approx(180)  # alpha is the segment's one team
    assert alpha["suppressed"] and beta["suppressed"]  # both under five members: displays blank their figures
    assert "month end" in budget.stage_table(report, tiny_params()) and alpha["forecast_basis"] == "actual"


def test_a_segment_budget_counts_a_developer_on_two_of_its_teams_once(tiny):
    segments = {"platform_sre": {"label": "Platform", "teams": ["alpha", "beta"]}}
    def segment_row(**budget_):
        prm = org_params(segments=segments, budgets={"segments": {"platform_sre": budget_}})
        report = budget.evaluate_guardrails(tiny, OCT, prm, as_of=date(2026, 10, 31))
        return report.rows.set_index("name").loc["platform_sre"], prm
    credits, _ = segment_row(monthly_credits=1000)
    # u1 (on both teams) 100, u2 50, u3 30 while on alpha, u4 20: 200, where alpha's 180 + beta's 120 add u1 twice
    assert credits["burn_to_date"] == pytest.approx(200)
    money, prm = segment_row(monthly_usd=1000)
    # seats: u1's 31 days once, u2 21, u3 20, u4 31 = 103 seat-days; October's credits stay inside the pool
    assert money["burn_to_date"] == pytest.approx(103 / 31 * SEAT)
    totals = bill.group_totals(tiny, OCT, prm, {"platform_sre": ["alpha", "beta"]}, cost.team_costs(tiny, OCT, prm))
    assert money["burn_to_date"] == pytest.approx(float(totals["total_cost"].iloc[0]))  # the overview's figure


def test_mid_month_the_burn_is_to_date_and_the_forecast_runs_to_month_end(tiny):
    report = budget.evaluate_guardrails(tiny, OCT, tiny_params(), as_of=date(2026, 10, 10))
    beta = report.rows.set_index("name").loc["beta"]
    assert beta["burn_to_date"] == pytest.approx(2 * 19 * 10 / 31)  # seats accrue by day
    assert beta["forecast"] == pytest.approx(38.0)  # the as-of day's seats to the end of the month
    assert "forecast" in budget.stage_table(report, tiny_params())  # mid-month the month end is a forecast
    paths = report.paths[report.paths["name"] == "alpha"].set_index("day")
    assert paths.loc[date(2026, 10, 10), "actual"] == pytest.approx(100.0)
    assert np.isnan(paths.loc[date(2026, 10, 11), "actual"])
    assert (np.diff(paths["expected"].to_numpy()) >= -1e-9).all()


def test_as_of_outside_the_month_or_the_data_is_refused(tiny):
    with pytest.raises(UserError, match="outside 2026-10"):
        budget.evaluate_guardrails(tiny, OCT, tiny_params(), as_of=date(2026, 11, 2))
    with pytest.raises(UserError, match="no usage data for 2027-01"):
        budget.evaluate_guardrails(tiny, parse_period("2027-01"), tiny_params())
    assert budget.parse_as_of("") is None and budget.parse_as_of("2026-10-15") == date(2026, 10, 15)
    with pytest.raises(UserError, match="YYYY-MM-DD"):
        budget.parse_as_of("15/10/2026")


def test_money_burn_includes_the_credit_overage_once_the_pool_runs_out(tiny):
    prm = tiny_params(prices={"included_credits_per_seat": {"business": 50, "enterprise": 100}})
    beta = budget.evaluate_guardrails(tiny, OCT, prm, as_of=date(2026, 10, 25)).rows.set_index("name").loc["beta"]
    # as of 10-25 the org used 240 credits against a pool of 50 x 114/31 seat-months (the as-of seats held on)
    assert beta["burn_to_date"] > 2 * 19 * 25 / 31


# -- params ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("yaml_text, message", [
    ("budgets:\n  teams:\n    alpha: {monthly_usd: 10, monthly_credits: 5}\n", r"budgets\.teams\.alpha.*not both"),
    ("budgets:\n  segments:\n    sre: {monthly_usd: 10}\n", r"budgets\.segments.*allowed: platform_sre"),
    ("guardrails:\n  thresholds: [0.6, 0.8]\n  actions:\n    '0.7': [x]\n", r"guardrails.*'0\.7'.*allowed: 0\.6, 0\.8"),
    ("guardrails:\n  thresholds: [0.9, 0.6]\n", r"guardrails\.thresholds.*ascending"),
    ("pool_allocation: fair\n", r"pool_allocation.*seat_share.*fair"),
])
def test_bad_guardrail_params_name_the_file_key_and_allowed_values(tmp_path, yaml_text, message):
    (tmp_path / "org.yaml").write_text("org: o\n" + yaml_text)
    with pytest.raises(UserError, match="(?s)org.yaml.*" + message):
        load_params(tmp_path)


# -- the command ----------------------------------------------------------------------------------------------
def test_guardrails_command_writes_alerts_and_prints_one_json_document(small_demo, tmp_path, capsys):
    args = ["guardrails", "--period", "2026-10", "--as-of", "2026-10-12", "--warehouse", str(small_demo.warehouse),
            "--params", str(PARAMS_DIR), "--out", str(tmp_path), "--webhook", "https://hooks.example.test/x", "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["as_of"] == "2026-10-12" and doc["webhook"]["dry_run"] is True
    assert doc == {**json.loads((tmp_path / "2026-10" / "alerts.json").read_text()),
                   "files": doc["files"], "webhook": doc["webhook"]}
    budgets = {b["name"]: b for b in doc["budgets"]}
    prm = load_params(PARAMS_DIR)
    assert set(budgets) >= {"platform-sre", "security_engineering"}
    for b in doc["budgets"]:
        expected_stage = budget.stage_of(max(b["pct_forecast"], b["pct_to_date"]), prm.guardrails.thresholds) \
            if not b["suppressed"] else b["stage"]
        assert b["stage"] == expected_stage
        if not b["suppressed"]:
            assert b["forecast_low"] <= b["forecast"] <= b["forecast_high"] and b["burn_to_date"] <= b["forecast"]
        else:
            assert b["burn_to_date"] is None and all(t["forecast_date"] is None for t in b["thresholds"])
    md = (tmp_path / "2026-10" / "alerts.md").read_text()
    assert "| platform-sre |" in md and "As of 2026-10-12" in md
    messages = doc["webhook"]["messages"]  # a dry run: one message per budget at a stage, written for review
    assert {m["name"] for m in messages} == {b["name"] for b in doc["budgets"] if b["stage"] is not None}
    payload = json.loads(open(messages[0]["file"]).read())
    assert payload["blocks"][0]["type"] == "header" and messages[0]["name"] in payload["text"]


def test_webhook_errors_name_the_host_but_not_the_secret(small_demo, tmp_path, capsys):
    own = tmp_path / "warehouse.duckdb"  # --send opens the warehouse to record what it sends
    shutil.copy(small_demo.warehouse, own)
    args = ["guardrails", "--period", "2026-10", "--warehouse", str(own), "--params", str(PARAMS_DIR),
            "--out", str(tmp_path), "--webhook", "http://127.0.0.1:9/hook/XyzzyToken", "--send"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1:9" in err and "XyzzyToken" not in err
    assert main(["guardrails", "--period", "2026-10", "--warehouse", str(small_demo.warehouse), "--send"]) == 2
    assert "--send needs --webhook" in capsys.readouterr().err


def test_burnup_chart_and_texts_build_on_the_demo_org(small_demo):
    prm = load_params(PARAMS_DIR)
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        report = budget.evaluate_guardrails(con, OCT, prm, as_of=date(2026, 10, 14))
    finally:
        con.close()
    row = report.rows.set_index("name").loc["platform-sre"].to_dict() | {"name": "platform-sre"}
    text = budget.guardrail_markdown(row, report, prm)
    assert "as of 2026-10-14" in text and "AI credits" in text
    spec = budget_chart.burnup_chart(report, "team", "platform-sre", prm).to_dict()
    assert spec["layer"] and len(budget.stage_table(report, prm)) == len(report.rows)
