"""The detector on a real (small) demo warehouse: detect(), the commands, pseudonyms, evaluation."""
from __future__ import annotations

import json
import random
import shutil
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


def test_a_teams_weeks_are_the_same_whether_asked_for_alone_or_with_the_org(demo):
    """The retro asks for its team's weeks alone (teams=); they must be exactly that team's rows of the org's."""
    con, params, period = demo["con"], demo["params"], parse_period(demo["org"].period)
    org_now, org_before = patterns.detect_with_previous(con, params, period, playbooks=demo["playbooks"])
    teams = sorted(set(org_now["team_slug"]) | set(org_before["team_slug"]))
    assert len(teams) > 1
    for team in teams + ["no-such-team"]:
        now, before = patterns.detect_with_previous(con, params, period, playbooks=demo["playbooks"], teams={team})
        for mine, org in ((now, org_now), (before, org_before)):
            expected = org[org["team_slug"] == team].reset_index(drop=True)
            assert list(mine.columns) == patterns.DETECT_COLUMNS
            # (an empty frame's columns are untyped, whichever way it was made)
            pd.testing.assert_frame_equal(mine.reset_index(drop=True), expected, check_dtype=not expected.empty)


def test_evaluation_scores_the_detector_against_the_ground_truth(demo):
    result = patterns_evaluate.evaluate_warehouse(demo["con"], demo["params"], demo["org"].ground_truth)
    scores = result["patterns"]
    assert set(scores) == set(patterns.PATTERN_NAMES)
    injected = sum(s["injected"] for s in scores.values())
    found = sum(s["true_positives"] for s in scores.values())
    # an eight-week org, effects of moderate size: the targets of the issue, overall
    assert injected > 0 and found >= 0.8 * injected
    for name, s in scores.items():
        assert s["injected"] > 0, name
        assert s["precision"] is not None and s["precision"] >= 0.8, (name, s)
    assert result["healthy_heavy"]["all"]["weeks"] > 0
    assert result["healthy_heavy"]["all"]["rate"] < 0.05
    assert result["distractors"]["all"]["weeks"] > 20 and result["distractors"]["all"]["rate"] <= 0.02
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


def test_patterns_command_prints_team_patterns_and_one_json_document_with_no_person_in_it(small_demo, capsys):
    args = ["patterns", "--period", "2026-10", "--warehouse", str(small_demo.warehouse), "--params", str(ROOT / "params")]
    assert main(args + ["--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["period"] == "2026-10" and document["k"] == 5
    assert document["table"] and set(document["table"][0]) >= {"pattern", "team_slug", "user_weeks", "users", "credits",
                                                                 "evidence", "suppressed"}
    for row in document["table"]:  # a row behind fewer than k developers keeps its names, not its figures
        assert row["suppressed"] == (row["users"] is None) and (row["users"] is None or row["users"] >= 5)
        assert row["suppressed"] == (row["credits"] is None) == (row["evidence"] is None)
    assert document["flagged"] == [] and "dev-" not in json.dumps(document)  # user-weeks only in the detail path

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "per team and pattern" in out and "dev-" not in out
    assert ("AI credits" in out) or ("fewer than 5 developers, so without figures" in out)
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        assert not any(login in out for login in logins(con))
    finally:
        con.close()


def test_patterns_detail_lists_the_weeks_with_logins_only_after_an_audit_row(small_demo, tmp_path, capsys):
    wh = tmp_path / "w.duckdb"
    shutil.copy(small_demo.warehouse, wh)
    args = ["patterns", "--period", "2026-10", "--warehouse", str(wh), "--params", str(ROOT / "params")]
    assert main(args + ["--detail", "--json"]) == 2 and "--incident" in capsys.readouterr().err
    assert main(args + ["--incident", "INC-9", "--reason", "a reason long enough", "--json"]) == 2
    assert "go with --detail" in capsys.readouterr().err
    detail = args + ["--detail", "--incident", "INC-9", "--reason", "runaway CLI loop on the build farm"]
    assert main(detail) == 2 and "--json" in capsys.readouterr().err  # identities as data only
    con = warehouse.connect(wh, read_only=True)
    assert con.execute("SELECT count(*) FROM access_audit").fetchone()[0] == 0  # refused runs leave no row
    known = logins(con)
    con.close()
    assert main(detail + ["--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["flagged"] and document["incident"] == "INC-9"
    assert all(f["login"] in known and f["user"].startswith("dev-") for f in document["flagged"])
    con = warehouse.connect(wh, read_only=True)
    audit = con.execute("SELECT incident_id, reason, scope FROM access_audit").fetchall()
    con.close()
    assert audit == [("INC-9", "runaway CLI loop on the build farm", "patterns 2026-10; flagged developer-weeks; identities")]


def test_patterns_command_errors_name_the_input(small_demo, tmp_path, capsys):
    assert main(["patterns", "--period", "2026-13", "--warehouse", str(small_demo.warehouse)]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    (tmp_path / "org.yaml").write_text((ROOT / "params/org.yaml").read_text())
    assert main(["patterns", "--period", "2026-10", "--warehouse", str(small_demo.warehouse),
                 "--params", str(tmp_path)]) == 2
    assert "playbooks.yaml" in capsys.readouterr().err


def test_pattern_table_folds_teams_under_k_and_suppresses_rows_under_k_developers():
    def week(user, team, credits, value):
        return {"user": user, "team_slug": team, "week_start": date(2026, 10, 5), "pattern": "off_window",
                "credits": credits, "evidence": [{"feature": "off_window_share", "value": value, "peer_median": 0.1}]}

    rows = ([week(f"dev-b{i}", "big", 10.0 * i, i / 5) for i in range(1, 6)]  # 5 developers on a big team
            + [week("dev-c1", "crowd", 1.0, 0.5), week("dev-c2", "crowd", 2.0, 0.6)]  # 2 on another big team
            + [week(f"dev-s{i}", "tiny" if i < 3 else "small", 5.0, 0.9) for i in range(1, 6)])  # 5 over two small teams
    table = patterns.pattern_table(pd.DataFrame(rows), {"big": 12, "crowd": 9, "tiny": 3, "small": 4}, k=5)
    by_team = {r["team_slug"]: r for r in table.to_dict(orient="records")}
    assert set(by_team) == {"big", "crowd", patterns.SMALL_TEAMS}
    assert by_team["big"]["users"] == 5 and by_team["big"]["credits"] == 150.0 and not by_team["big"]["suppressed"]
    (median,) = by_team["big"]["evidence"]  # the team's median of the weeks' values, and of their peer medians
    assert median == {"feature": "off_window_share", "value": pytest.approx(0.6), "peer_median": pytest.approx(0.1)}
    assert by_team[patterns.SMALL_TEAMS]["user_weeks"] == 5 and by_team[patterns.SMALL_TEAMS]["credits"] == 25.0
    crowd = by_team["crowd"]
    assert crowd["suppressed"] and pd.isna(crowd["users"]) and pd.isna(crowd["credits"]) and crowd["evidence"] is None
    text = patterns.table_for_display(table, 5).set_index("team")
    assert text.loc["crowd", "AI credits"] == "suppressed (< 5)" and text.loc["big", "AI credits"] == "150"
    records = {r["team_slug"]: r for r in patterns.table_records(table, 5)}
    assert records["crowd"]["credits"] is None and records["big"]["credits"] == 150.0


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
def test_evaluate_patterns_on_an_org_the_test_does_not_fix(capsys):
    """A seed drawn for this run (printed on failure), moderate effects: the command's document, and margins
    wide enough that only a broken detector misses them (the per-seed figures are in the note of issue 14)."""
    seed = random.SystemRandom().randrange(1000, 1_000_000)
    code = main(["evaluate-patterns", "--seed", str(seed), "--users", "80", "--days", "77",
                 "--params", str(ROOT / "params"), "--json"])
    document = json.loads(capsys.readouterr().out)
    (result,) = document["results"]
    assert code == (0 if document["meets_targets"] else 1)
    assert result["seed"] == seed and result["pattern_strength"] == 1.0
    scores = result["patterns"].values()
    injected, detected = sum(s["injected"] for s in scores), sum(s["detected"] for s in scores)
    found = sum(s["true_positives"] for s in scores)
    assert found >= 0.7 * injected and found >= 0.75 * detected, (seed, result["patterns"])
    assert result["distractors"]["all"]["rate"] <= 0.05, (seed, result["distractors"])
    (row,) = document["summary"]
    assert row["strength"] == 1.0 and set(row["patterns"]) == set(patterns.PATTERN_NAMES)
    assert document["meets_targets"] == row["meets_targets"] == result["meets_targets"]  # one seed: pooled = alone


def test_the_targets_are_read_over_the_seeds_together():
    """One flagged distractor week of 40 is 2.5 % in its seed, 1.25 % over two: the sweep's verdict pools them."""
    from copilot_finops.patterns.evaluate import sweep_summary

    def result(seed, caught, flagged):
        scores = {name: {"injected": 8, "detected": caught, "true_positives": caught} for name in patterns.PATTERN_NAMES}
        pooled_alone = sweep_summary([{"seed": seed, "pattern_strength": 1.0, "patterns": scores,
                                       "healthy_heavy": {"all": {"weeks": 200, "flagged": 2}},
                                       "distractors": {"all": {"weeks": 40, "flagged": flagged}},
                                       "meets_targets": None}])[0]
        return {"seed": seed, "pattern_strength": 1.0, "patterns": scores,
                "healthy_heavy": {"all": {"weeks": 200, "flagged": 2}},
                "distractors": {"all": {"weeks": 40, "flagged": flagged}}, "meets_targets": pooled_alone["meets_targets"]}

    noisy, clean = result(1, caught=8, flagged=1), result(2, caught=7, flagged=0)
    assert noisy["meets_targets"] is False and clean["meets_targets"] is True  # 2.5 % alone; 7 of 8 = 0.875 recall
    (row,) = sweep_summary([noisy, clean])
    assert row["distractors"]["rate"] == 0.0125 and row["meets_targets"] and row["seeds_meeting_targets"] == 1
    (worse,) = sweep_summary([noisy, result(3, caught=5, flagged=0)])  # 13 of 16 = 0.81 recall, 5 of 8 alone
    assert worse["meets_targets"] and worse["seeds_meeting_targets"] == 0
    (missed,) = sweep_summary([noisy, result(4, caught=4, flagged=1)])  # 12 of 16 = 0.75 recall, 2 of 80 flagged
    assert not missed["meets_targets"]


def test_team_week_table_sums_the_team_and_suppresses_weeks_under_k(demo):
    con, params = demo["con"], demo["params"]
    period = parse_period("2026-10")
    table = patterns.team_week_table(con, params, "platform-sre", period, k=5)
    assert len(table) == 4  # weeks of 28 Sep .. 19 Oct: their Thursdays are in October, all full
    assert (table["developers"] >= 5).all()
    tiny = patterns.team_week_table(con, params, "secrets-scanning", period, k=5)  # the demo's team under five
    assert len(tiny) > 0 and tiny.drop(columns="week of").isna().all().all()


def test_team_weeks_show_the_detectors_own_figures(demo):
    """The team-week table and the detector count duplicate work (and developers, credits) alike: the table sums
    the user-weeks the detector labelled, not a second search over the month's PRs with its own token weights."""
    con, params = demo["con"], demo["params"]
    period = parse_period("2026-10")
    first, last = patterns.period_weeks(period)
    labelled = patterns.label_user_weeks(con, params, first, last)
    month = labelled[[patterns.week_month(w) == "2026-10" for w in labelled["week_start"]]]
    expected = month.groupby(["team_slug", "week_start"]).agg(
        users=("user_id", "size"), duplicate_prs=("duplicate_prs", "sum"), credits=("ai_credits_used", "sum"))
    teams = patterns.org_team_weeks(con, params, period).set_index(["team_slug", "week_start"]).sort_index()
    assert list(teams.index) == list(expected.index)
    assert teams["users"].tolist() == expected["users"].tolist()
    assert teams["duplicate_prs"].tolist() == expected["duplicate_prs"].tolist()
    assert teams["ai_credits_used"].round(6).tolist() == expected["credits"].round(6).tolist()
    assert expected["duplicate_prs"].sum() > 0  # the demo repeats work across repos: the comparison has teeth
    table = patterns.team_week_table(con, params, "platform-sre", period, k=5)
    mine = expected.loc["platform-sre"]
    assert table["PRs repeating other work"].tolist() == mine["duplicate_prs"].tolist()


def test_on_call_and_incident_days_are_not_off_window_use(demo):
    """A weekend on call (declared in params, or shown by an incident assigned and a hotfix) is the job."""
    from copilot_finops.patterns import duty, features

    truth = demo["org"].ground_truth
    declared = patterns_evaluate.with_declared_rota(demo["params"], truth)
    first, last = date(2026, 8, 31), date(2026, 10, 31)
    days = duty.duty_days(demo["con"], declared, first, last).set_index(["user_login", "day"])["reason"]
    on_call = [d for d in truth["distractors"] if d["kind"] in ("on_call_incident", "on_call_rota")
               and date.fromisoformat(d["week_start"]) >= first]
    assert on_call
    for d in on_call:
        saturday = date.fromisoformat(d["week_start"]) + timedelta(days=5)
        reason = days.get((d["user_login"].lower(), saturday))
        assert reason == ("on call" if d["kind"] == "on_call_rota" else "incident"), d
    with_rota = features.load_user_weeks(demo["con"], declared).set_index(["user_login", "week_start"])
    without = features.load_user_weeks(demo["con"], demo["params"]).set_index(["user_login", "week_start"])
    for d in on_call:
        key = (d["user_login"], date.fromisoformat(d["week_start"]))
        assert with_rota.loc[key, "duty_days"] >= 2
        if d["kind"] == "on_call_rota":  # GitHub shows nothing of it: undeclared, it is a weekend of work
            assert without.loc[key, "off_window_days"] == with_rota.loc[key, "off_window_days"] + 2
        else:  # the incident assigned marks the weekend, declared or not
            assert without.loc[key, "off_window_days"] == with_rota.loc[key, "off_window_days"]
