"""The detector on a real (small) demo warehouse: detect(), the commands, pseudonyms, evaluation."""
from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from copilot_finops import patterns, privacy, warehouse
from copilot_finops.patterns import evaluate as patterns_evaluate
from copilot_finops.cli import main
from copilot_finops.params import load_params, load_playbooks
from copilot_finops.period import parse_period

from conftest import ROOT


@pytest.fixture(scope="module")
def demo(small_demo):
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    params = load_params(ROOT / "params")
    playbooks = load_playbooks(ROOT / "params")
    flagged = patterns.detect(con, params, parse_period(small_demo.period), playbooks=playbooks)
    yield {"con": con, "params": params, "playbooks": playbooks, "flagged": flagged, "org": small_demo}
    con.close()


def logins(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT DISTINCT user_login FROM user_day").fetchall()}


def test_detect_returns_pseudonymous_flagged_weeks_of_the_month_with_evidence_and_advice(demo):
    flagged = demo["flagged"]
    assert list(flagged.columns) == patterns.DETECT_COLUMNS
    assert len(flagged) > 0
    assert set(flagged["pattern"]) <= set(patterns.PATTERN_NAMES)
    assert flagged["user"].str.fullmatch(r"dev-[0-9a-f]{6,}").all()
    for week in flagged["week_start"]:
        assert week.weekday() == 0 and (week + timedelta(days=3)).strftime("%Y-%m") == "2026-10"
        assert week + timedelta(days=6) <= date(2026, 10, 31)  # full weeks inside the data only
    for _, row in flagged.iterrows():
        assert row["advice"] == demo["playbooks"].patterns[row["pattern"]].advice
        assert row["evidence"] and all(set(e) == {"feature", "value", "peer_median"} for e in row["evidence"])
    text = json.dumps(patterns.to_records(flagged), default=str)
    assert not any(login in text for login in logins(demo["con"]))


def test_flagged_credits_are_the_users_credits_that_week(demo):
    """The credits column is the week's AI credits from the warehouse, not a model output."""
    con, flagged = demo["con"], demo["flagged"]
    weeks = con.execute("SELECT user_login, week_start, ai_credits_used FROM int_user_week_usage").df()
    weeks["user"] = [privacy.pseudonym(u) for u in weeks["user_login"]]
    weeks["week_start"] = pd.to_datetime(weeks["week_start"]).dt.date
    merged = flagged.merge(weeks, on=["user", "week_start"], how="left")
    assert merged["ai_credits_used"].round(2).tolist() == merged["credits"].tolist()


def test_detect_is_deterministic_on_the_warehouse(demo):
    again = patterns.detect(demo["con"], demo["params"], parse_period("2026-10"), playbooks=demo["playbooks"])
    pd.testing.assert_frame_equal(demo["flagged"], again)


def test_evaluation_scores_the_detector_against_the_ground_truth(demo):
    result = patterns_evaluate.evaluate_warehouse(demo["con"], demo["params"], demo["org"].ground_truth)
    scores = result["patterns"]
    assert set(scores) == set(patterns.PATTERN_NAMES)
    injected = sum(s["injected"] for s in scores.values())
    found = sum(s["true_positives"] for s in scores.values())
    assert injected > 0 and found >= 0.9 * injected
    for name, s in scores.items():
        assert s["injected"] > 0, name
        assert s["precision"] is not None and s["precision"] >= 0.85, (name, s)
    assert result["healthy_heavy"]["all"]["weeks"] > 0
    assert result["healthy_heavy"]["all"]["rate"] < 0.05
    text = json.dumps(result)
    assert not any(login in text for login in logins(demo["con"]))  # misses are listed by pseudonym


def test_scoring_counts_a_detection_only_with_the_same_user_week_and_pattern():
    week = date(2026, 9, 7)
    labelled = pd.DataFrame({"user_login": ["a", "b", "c", "d"], "week_start": [week] * 4,
                             "pattern": ["off_window", "retry_no_accept", "", "duplicate_work"]})
    truth = pd.DataFrame({"user_login": ["a", "b", "c", "x"], "week_start": [week, week, week, week + timedelta(days=70)],
                          "pattern": ["off_window", "off_window", "cli_token_loop", "off_window"]})
    scores = patterns_evaluate.score_patterns(labelled, truth, b"k" * 32)
    assert scores["off_window"] | {"missed": None} == {
        "injected": 2, "detected": 1, "true_positives": 1, "precision": 1.0, "recall": 0.5,
        "false_alarms": [], "missed": None}  # x's week lies outside the labelled weeks: not counted
    assert scores["retry_no_accept"]["precision"] == 0.0 and scores["retry_no_accept"]["recall"] is None
    assert scores["cli_token_loop"]["recall"] == 0.0 and scores["cli_token_loop"]["precision"] is None


def test_patterns_command_prints_the_table_and_one_json_document(small_demo, capsys):
    args = ["patterns", "--period", "2026-10", "--warehouse", str(small_demo.warehouse), "--params", str(ROOT / "params")]
    assert main(args + ["--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["period"] == "2026-10" and document["k"] == 5
    assert document["table"] and set(document["table"][0]) == {"pattern", "team_slug", "user_weeks", "users", "credits"}
    assert sum(r["user_weeks"] for r in document["table"]) >= len(document["flagged"])
    assert all(f["team_slug"] not in document["teams_folded"] for f in document["flagged"])

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "pattern" in out and "user-weeks" in out and "AI credits" in out
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        assert not any(login in out for login in logins(con))
    finally:
        con.close()


def test_patterns_command_errors_name_the_input(small_demo, tmp_path, capsys):
    assert main(["patterns", "--period", "2026-13", "--warehouse", str(small_demo.warehouse)]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    (tmp_path / "org.yaml").write_text((ROOT / "params/org.yaml").read_text())
    assert main(["patterns", "--period", "2026-10", "--warehouse", str(small_demo.warehouse),
                 "--params", str(tmp_path)]) == 2
    assert "playbooks.yaml" in capsys.readouterr().err


def test_pattern_table_folds_teams_under_k_developers():
    flagged = pd.DataFrame({
        "user": ["dev-1", "dev-2", "dev-3", "dev-4"], "team_slug": ["big", "big", "tiny", "small"],
        "week_start": [date(2026, 10, 5)] * 4, "pattern": ["off_window"] * 4, "credits": [10.0, 20.0, 5.0, 7.0]})
    table = patterns.pattern_table(flagged, {"big": 12, "tiny": 3, "small": 4}, k=5)
    rows = {r["team_slug"]: r for r in table.to_dict(orient="records")}
    assert set(rows) == {"big", patterns.SMALL_TEAMS}
    assert rows[patterns.SMALL_TEAMS]["user_weeks"] == 2 and rows[patterns.SMALL_TEAMS]["credits"] == 12.0
    assert rows["big"]["users"] == 2


def test_team_movement_compares_with_last_month():
    def frame(rows):
        return pd.DataFrame(rows, columns=["team_slug", "pattern", "week_start", "credits"])

    current = frame([("t", "off_window", date(2026, 10, 5), 100.0), ("t", "off_window", date(2026, 10, 12), 50.0),
                     ("other", "cli_token_loop", date(2026, 10, 5), 999.0)])
    previous = frame([("t", "off_window", date(2026, 9, 7), 80.0), ("t", "retry_no_accept", date(2026, 9, 14), 40.0)])
    movement = patterns.team_movement(current, previous, "t").set_index("pattern")
    assert movement.loc["Heavy use outside delivery windows", "change"] == "up"
    assert movement.loc["Heavy use outside delivery windows", "credits"] == 150.0
    assert movement.loc["Repeated retries with no acceptance", "change"] == "gone"
    assert "Token-heavy CLI loops" not in movement.index  # another team's pattern


def test_pseudonyms_are_stable_keyed_and_never_the_login():
    a = privacy.pseudonym("Ada-Okafor", b"k" * 32)
    assert a == privacy.pseudonym("ada-okafor", b"k" * 32)  # logins are case-insensitive on GitHub
    assert a != privacy.pseudonym("ada-okafor", b"j" * 32)
    assert a.startswith("dev-") and "ada" not in a


def test_weeks_count_in_the_month_of_their_thursday():
    assert patterns.week_month(date(2026, 9, 28)) == "2026-10"  # Thu 1 Oct
    assert patterns.week_month(date(2026, 8, 31)) == "2026-09"  # Thu 3 Sep
    first, last = patterns.period_weeks(parse_period("2026-10"), lookback_weeks=4)
    assert last == date(2026, 10, 26) and first == date(2026, 9, 28)


@pytest.mark.slow
def test_evaluate_patterns_on_the_default_demo_org_meets_the_targets(capsys):
    """The issue's acceptance check: seed 7 at default size, every pattern P >= 0.85 and R >= 0.80."""
    code = main(["evaluate-patterns", "--seed", "7", "--params", str(ROOT / "params"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["meets_targets"], result
    for s in result["patterns"].values():
        assert s["precision"] >= 0.85 and s["recall"] >= 0.80
    assert result["healthy_heavy"]["all"]["rate"] < 0.05


def test_team_week_table_sums_the_team_and_suppresses_weeks_under_k(demo):
    con, params = demo["con"], demo["params"]
    period = parse_period("2026-10")
    table = patterns.team_week_table(con, params, "platform-sre", period, k=5)
    assert len(table) == 4  # weeks of 28 Sep .. 19 Oct: their Thursdays are in October, all full
    assert (table["developers"] >= 5).all()
    tiny = patterns.team_week_table(con, params, "secrets-scanning", period, k=5)  # the demo's team under five
    assert len(tiny) > 0 and tiny.drop(columns="week of").isna().all().all()
