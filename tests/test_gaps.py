"""Data completeness: which report days are missing, late or partial, the usage as-of day, the forecast over gaps,
the banner on every report and the `gaps` key of the commands' JSON."""
from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from copilot_finops import budget, budget_chart, forecast, gaps, retro, warehouse
from copilot_finops.cli import main
from copilot_finops.ingest import ingest_raw
from copilot_finops.ingest.manifest import manifest_rows
from copilot_finops.params import Budget, Budgets, load_params
from copilot_finops.period import parse_period

ROOT = Path(__file__).resolve().parents[1]
OCT = parse_period("2026-10")
MISSING = [date(2026, 10, 19), date(2026, 10, 20)]


def d(day: int, month: int = 10) -> date:
    return date(2026, month, day)


# -- the states, on a warehouse written by hand ---------------------------------------------------------------
def _report_file(con, kind: str, day: date, part: int = 0, quarantined: int = 0) -> None:
    con.execute("INSERT INTO ingest_file VALUES (?, ?, 'x', 1, ?, now())",
                [f"metrics/{kind}/{day}/part-{part}.ndjson", kind, quarantined])


def _manifest(con, line: int, kind: str, day: date, fetched_at: datetime, parts: int | None = None,
              status: int | None = None) -> None:
    path = None if status == 204 else f"metrics/{kind}/{day}/part-0.ndjson"
    con.execute("INSERT INTO fetch_manifest VALUES (?, ?, ?, 0, ?, ?, ?, 1, ?, 'test')",
                [line, kind, day, parts, status, path, fetched_at])


@pytest.fixture(scope="module")
def hand_built(tmp_path_factory):
    """Users and org reports of 1-8 October, fetched on 11 and 9 October, with one gap of each kind:

    users-1-day: 3rd absent (fetched after it settled: missing), 4th absent but the org report saw nobody active
    (an idle day), 5th with quarantined lines and 6th with one of two shards (partial), 8th absent and not settled
    when last fetched (late). organization-1-day: 6th absent, last fetched on the 9th (late). user-teams-1-day:
    imported by hand (no day folders), present on three days only, so its absent days cannot be judged.
    """
    con = warehouse.connect(tmp_path_factory.mktemp("gaps") / "w.duckdb")
    for day in range(1, 9):
        if day not in (3, 4, 8):
            con.execute("INSERT INTO user_day (day, user_id, user_initiated_interaction_count) VALUES (?, 1, 3)",
                        [d(day)])
            _report_file(con, "users-1-day", d(day), quarantined=2 if day == 5 else 0)
        if day != 6:
            active = 0 if day == 4 else 7
            con.execute("""INSERT INTO org_day (day, organization_id, daily_active_users, source_kind)
                           VALUES (?, 'o', ?, 'organization-1-day')""", [d(day), active])
            _report_file(con, "organization-1-day", d(day))
    for line, day in enumerate(range(1, 9), start=1):
        _manifest(con, line, "users-1-day", d(day), datetime(2026, 10, 11, 6), parts=2 if day == 6 else 1,
                  status=204 if day in (3, 8) else None)
        _manifest(con, 100 + line, "organization-1-day", d(day), datetime(2026, 10, 9, 6))
    for day in (1, 2, 8):
        con.execute("INSERT INTO user_team_day VALUES (?, 1, 10, 'alpha', 'u1', 'o')", [d(day)])
    warehouse.refresh_materialized(con)  # as a report run does before its notebooks
    yield con
    con.close()


def test_each_gap_state_follows_from_what_arrived_and_when(hand_built):
    found = {(r["kind"], r["day"]): r["state"] for r in gaps.gaps_between(hand_built, d(1), d(31)).to_dict("records")}
    assert found == {("users-1-day", d(3)): "missing", ("users-1-day", d(5)): "partial",
                     ("users-1-day", d(6)): "partial", ("users-1-day", d(8)): "late",
                     ("organization-1-day", d(6)): "late"}


def test_usage_runs_to_the_last_complete_users_day_and_gap_days_are_unknown(hand_built):
    assert gaps.usage_as_of(hand_built) == d(7)  # the 8th: other reports have it, the users report not yet
    assert gaps.unknown_usage_days(hand_built, d(1), d(8)) == {d(3), d(5), d(6), d(8)}
    entries = {(e["kind"], e["day"]): e for e in gaps.gaps_document(hand_built, d(1), d(8))}
    assert entries[("users-1-day", "2026-10-06")]["parts_expected"] == 2
    assert entries[("users-1-day", "2026-10-05")]["lines_quarantined"] == 2
    assert entries[("users-1-day", "2026-10-08")]["kind_fetched_at"] == "2026-10-11T06:00:00"
    assert json.loads(json.dumps(list(entries.values())))  # plain JSON


def test_the_banner_names_each_kind_state_and_day_and_the_as_of_day(hand_built):
    text = gaps.banner_markdown(hand_built, d(1), d(31))
    assert text.startswith("> **Incomplete data.**")
    assert "users report (users-1-day) is missing for 3 Oct" in text
    assert "arrived incomplete (lines that could not be read, or shards missing) for 5–6 Oct" in text
    assert "has not arrived yet" in text and "organization report (organization-1-day)" in text
    assert "Usage figures run to 7 Oct 2026" in text
    assert gaps.banner_markdown(hand_built, d(1, 9), d(30, 9)) == "" and gaps.banner_html(hand_built, d(1), d(2)) == ""
    assert gaps.banner_html(hand_built, d(1), d(31)).startswith('<p class="gap-banner">')


def test_day_ranges_read_as_words():
    assert gaps.day_ranges([d(20), d(19), d(23)]) == "19–20 Oct and 23 Oct"
    assert gaps.day_ranges([d(30, 9), d(1), d(2)]) == "30 Sep–2 Oct"
    assert gaps.day_ranges([d(1), d(3), d(5)]) == "1 Oct, 3 Oct and 5 Oct"


def test_the_manifest_is_read_tolerantly(tmp_path):
    (tmp_path / "manifest.jsonl").write_bytes(
        b'{"kind": "users-1-day", "path": "metrics/users-1-day/2026-10-19/part-0.ndjson", "rows": 3, '
        b'"fetched_at": "2026-10-22T08:00:00+02:00"}\n'
        b'{"kind": "users-1-day", "day": "2026-10-20", "status": 204, "fetched_at": "2026-10-22T06:00:00Z"}\n'
        b'not json\n["a list"]\n{"kind": "users-1-day", "day": "2026-10-2')  # a torn last line
    rows = manifest_rows(tmp_path)
    assert rows["line"].tolist() == [1, 2]
    assert rows["day"].tolist() == [d(19), d(20)]  # from the path's day folder, or the line's own day
    assert rows["fetched_at"].tolist() == [datetime(2026, 10, 22, 6), datetime(2026, 10, 22, 6)]  # as UTC
    assert manifest_rows(tmp_path / "nowhere").empty


# -- the forecast over unknown days -----------------------------------------------------------------------------
def test_unknown_days_are_estimated_not_counted_as_zero():
    days = [d(1, 9) + timedelta(days=i) for i in range(50)]
    recorded = pd.Series(100.0, index=days)  # every day a workday at 100
    lost = {days[-3], days[-2]}
    recorded[list(lost)] = 0.0  # what a missing report leaves: nothing recorded
    paths = forecast.month_paths(recorded, lost, d(1), d(31), set()).paths
    as_of = days[-1]  # 20 October
    assert paths[forecast.RECORDED][as_of] == pytest.approx(1800)  # 20 days, two of them not in
    assert paths[0.0][as_of] == pytest.approx(2000) and paths[0.0][d(31)] == pytest.approx(3100)
    zeros = forecast.month_paths(recorded, set(), d(1), d(31), set()).paths
    assert zeros[0.0][d(31)] < paths[0.0][d(31)]  # what counting them as zero did: the level dragged down
    assert paths[-1.0][as_of] >= 1800 and (paths[1.0] >= paths[0.0]).all()


def test_a_history_with_nothing_known_gives_a_note_not_nan():
    days = [d(1) + timedelta(days=i) for i in range(10)]
    fc = forecast.forecast_days(pd.Series(np.nan, index=days), [d(11), d(12)], set())
    assert fc.expected.tolist() == [0.0, 0.0] and fc.sd.tolist() == [0.0, 0.0] and "nothing to forecast" in fc.note


def test_theil_sen_ignores_a_burst_at_the_end():
    t = np.arange(20, dtype=float)
    y = 100 + 0 * t
    y[-2:] = 600  # two heavy days just before the as-of day
    assert forecast.theil_sen_slope(t, y) == pytest.approx(0.0)
    assert np.polyfit(t, y, 1)[0] > 10  # least squares would carry the burst forward as growth


# -- two days of October's users report deleted from the small demo's raw zone ---------------------------------
@pytest.fixture(scope="module")
def gap_org(small_demo, tmp_path_factory):
    base = tmp_path_factory.mktemp("gap-org")
    shutil.copytree(small_demo.raw, base / "raw")
    for day in MISSING:
        shutil.rmtree(base / "raw" / "metrics" / "users-1-day" / day.isoformat())
    ingest_raw(base / "raw", base / "warehouse.duckdb")
    return base / "warehouse.duckdb"


def credit_params():
    return load_params(ROOT / "params").model_copy(update={"budgets": Budgets(default=Budget(monthly_credits=30000.0))})


def test_deleted_days_are_missing_and_the_month_end_is_estimated_within_its_interval(gap_org, small_demo):
    con = warehouse.connect(gap_org, read_only=True)
    full = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        listed = gaps.gaps_between(con, OCT.start, OCT.end)
        assert listed[["kind", "day", "state"]].values.tolist() == [["users-1-day", day, "missing"] for day in MISSING]
        assert gaps.usage_as_of(con) == OCT.end  # later days are complete: the month is over
        report = budget.evaluate_guardrails(con, OCT, credit_params())
        complete = budget.evaluate_guardrails(full, OCT, credit_params())
        actual = complete.rows.set_index("name")["burn_to_date"]
    finally:
        con.close()
        full.close()
    teams = report.rows[report.rows["scope"] == "team"].set_index("name")
    chart = budget_chart.burnup_chart(report, "team", "devex", credit_params()).to_dict()
    hollow = [layer for layer in chart["layer"] if layer.get("mark", {}).get("fill") == "white"]
    assert len(hollow) == 1 and "2 days with no usage report, estimated" in chart["title"]["subtitle"]
    drawn = chart["datasets"][hollow[0]["data"]["name"]]  # the burn-up marks exactly the estimated days
    assert sorted(str(r["day"])[:10] for r in drawn) == [day.isoformat() for day in MISSING]
    assert len(teams) == 10 and (teams["forecast_basis"] == "estimate").all() and (teams["estimated_days"] == 2).all()
    assert (teams["burn_to_date"] < actual[teams.index]).all()  # recorded: the two days are not in it
    assert (teams["forecast_low"] >= teams["burn_to_date"]).all()
    inside = (teams["forecast_low"] <= actual[teams.index]) & (actual[teams.index] <= teams["forecast_high"])
    assert inside.sum() >= 7, inside  # the 80 % interval of the estimated month end holds the actual
    text = budget.guardrail_markdown(teams.loc["devex"].to_dict() | {"name": "devex"}, report, credit_params())
    assert "without 2 days whose usage is not in" in text and "80% interval" in text
    # the retro (06) says the same through the same formatter; a closed month without gaps quotes its actual only
    estimated = retro.guardrail_markdown(retro.team_guardrail(report, "devex"), "devex", 5)
    assert "without 2 days whose usage is not in" in estimated
    assert budget.interval_text(teams.loc["devex"].to_dict(), "USD") in estimated
    closed = retro.guardrail_markdown(retro.team_guardrail(complete, "devex"), "devex", 5)
    assert closed.split(". ", 1)[1].startswith("The month closed at") and "interval" not in closed
    assert "likely range" not in closed and "forecast" not in closed.split("Actions")[0]


def test_guardrails_and_delivery_json_carry_the_gaps_and_keep_their_keys(gap_org, small_demo, tmp_path, capsys):
    def run(args):
        assert main(args) == 0
        return json.loads(capsys.readouterr().out)

    common = ["--period", "2026-10", "--params", str(ROOT / "params"), "--json"]
    with_gap = run(["guardrails", "--warehouse", str(gap_org), "--out", str(tmp_path / "a")] + common)
    without = run(["guardrails", "--warehouse", str(small_demo.warehouse), "--out", str(tmp_path / "b")] + common)
    assert set(with_gap) == set(without) and "gaps" in with_gap and without["gaps"] == []
    assert [(g["kind"], g["day"], g["state"]) for g in with_gap["gaps"]] == [
        ("users-1-day", "2026-10-19", "missing"), ("users-1-day", "2026-10-20", "missing")]
    assert set(with_gap["budgets"][0]) == set(without["budgets"][0])
    assert "Incomplete data" in (tmp_path / "a" / "2026-10" / "alerts.md").read_text()
    delivery = run(["delivery", "--warehouse", str(gap_org), "--teams", "appsec"] + common)
    assert {"period", "window", "teams", "gaps"} <= set(delivery)
    assert [g["day"] for g in delivery["gaps"]] == ["2026-10-19", "2026-10-20"]


@pytest.mark.slow
def test_every_report_of_the_month_shows_the_gap(gap_org, project_cwd):
    from copilot_finops.reports import make_reports
    from copilot_finops.reports.executors import run_reports
    from copilot_finops.reports.plan import plan_tasks

    index, results = make_reports(str(gap_org), "params", "2026-10", "out", teams_arg="platform-sre",
                                  notebooks=str(ROOT / "notebooks"), workers=2, progress=False, retro=True)
    results += run_reports(plan_tasks([], "2026-10", str(gap_org), "params", "out", ROOT / "notebooks"),
                           workers=1, progress=False)
    books = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))  # the team's pages and the org overview
    assert len(results) == len(books) == 8 and all(r.ok for r in results), [r.error for r in results if not r.ok]
    pages = [Path(r.html) for r in results] + [index, project_cwd / "out/2026-10/platform-sre/retro.html"]
    for page in pages:
        html = page.read_text()
        assert "Incomplete data." in html and "19–20 Oct" in html, page
