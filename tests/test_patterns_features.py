"""Per user-week features of the high-burn detector, on small hand-built frames."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from copilot_finops.params import DeliveryWindows
from copilot_finops.patterns.features import FEATURES, full_weeks, team_adjusted, team_week_features, usual, user_week_features


def week_sums(**overrides) -> dict:
    row = {
        "user_login": "u1", "team_slug": "payments-api", "segment": "backend_services", "week_start": date(2026, 9, 7),
        "interactions": 20, "generations": 200, "generations_excl_agent_edit": 180, "acceptances_excl_agent_edit": 54,
        "agent_edit_generations": 20, "loc_suggested": 800, "loc_added": 400, "ai_credits_used": 150.0,
        "cli_requests": 0, "cli_prompts": 0, "cli_tokens": 0, "off_window_activity": 0, "off_window_days": 0, "prs_opened": 2,
        "prs_opened_unmerged": 0, "merged_prs_same_week": 2, "merged_prs_next_week": 1, "duplicate_prs": 0,
    }
    row.update(overrides)
    return row


def test_ratios_leave_out_agent_edits_and_guard_against_zero():
    frame = user_week_features(pd.DataFrame([
        week_sums(),
        week_sums(user_login="u2", acceptances_excl_agent_edit=0, cli_requests=350, cli_prompts=10, cli_tokens=3_500_000,
                  off_window_activity=110, prs_opened=0),
    ]))
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["accepted_output_ratio"] == pytest.approx(54 / 180)  # agent_edit's 20 generations left out
    assert first["loc_added_per_suggested"] == pytest.approx(0.5)
    assert first["credits_per_accepted_output"] == pytest.approx(150 / 54)
    assert np.isnan(first["cli_requests_per_prompt"]) and np.isnan(first["cli_tokens_per_accepted_output"])
    assert first["unmerged_share"] == 0.0 and first["off_window_share"] == 0.0
    assert second["accepted_output_ratio"] == 0.0
    assert second["credits_per_accepted_output"] == pytest.approx(150.0)  # divided by one, not by zero
    assert second["cli_requests_per_prompt"] == pytest.approx(35.0)
    # CLI prompts, not requests: the agent's automated follow-ups are not the developer's activity
    assert second["activity"] == 20 + 200 + 10
    assert second["off_window_share"] == pytest.approx(110 / 230)
    assert np.isnan(second["unmerged_share"])
    assert set(FEATURES) <= set(frame.columns)
    assert list(frame["weeks_active"]) == [1, 1]
    assert all(frame[f].dtype == "float64" for f in FEATURES)


def test_team_week_features_recompute_ratios_from_sums():
    frame = user_week_features(pd.DataFrame([
        week_sums(), week_sums(user_login="u2", generations_excl_agent_edit=20, acceptances_excl_agent_edit=18),
    ]))
    team = team_week_features(frame)
    assert len(team) == 1
    row = team.iloc[0]
    assert row["users"] == 2
    assert row["accepted_output_ratio"] == pytest.approx((54 + 18) / (180 + 20))  # not the mean of 0.3 and 0.9


def test_full_weeks_are_monday_to_sunday_inside_the_window():
    assert full_weeks(date(2026, 7, 4), date(2026, 7, 26)) == [date(2026, 7, 6), date(2026, 7, 13), date(2026, 7, 20)]
    assert full_weeks(date(2026, 7, 6), date(2026, 7, 11)) == []


def test_off_window_days_cover_weekends_holidays_and_freezes():
    windows = DeliveryWindows(holidays=[date(2026, 9, 7)],
                              change_freezes=[{"start": date(2026, 9, 9), "end": date(2026, 9, 10), "reason": "release"}])
    days = windows.off_window_days(date(2026, 9, 7), date(2026, 9, 13))
    assert days == [date(2026, 9, 7), date(2026, 9, 9), date(2026, 9, 10), date(2026, 9, 12), date(2026, 9, 13)]
    assert DeliveryWindows(weekends_off=False).off_window_days(date(2026, 9, 7), date(2026, 9, 13)) == []
    friday_saturday = DeliveryWindows(weekend_days=["fri", "sat"]).off_window_days(date(2026, 9, 7), date(2026, 9, 13))
    assert friday_saturday == [date(2026, 9, 11), date(2026, 9, 12)]


def test_change_freezes_accept_the_older_pair_form_and_reject_reversed_ranges():
    windows = DeliveryWindows(change_freezes=[[date(2026, 12, 20), date(2027, 1, 3)]])
    assert windows.change_freezes[0].end == date(2027, 1, 3)
    with pytest.raises(ValueError, match="ends on or after its start"):
        DeliveryWindows(change_freezes=[{"start": date(2026, 12, 20), "end": date(2026, 12, 1)}])


def test_the_usual_week_is_the_median_of_the_developers_other_nearby_weeks():
    weeks = [date(2026, 7, 6) + timedelta(weeks=i) for i in range(12)]
    values = pd.Series([10.0] * 5 + [100.0] + [10.0] * 2 + [40.0] * 4)  # one spike, then a new level
    base = usual(values, pd.Series(["u"] * 12), pd.Series(weeks))
    assert base.iloc[5] == 10.0  # the spike is judged against its neighbours, not itself
    assert base.iloc[11] == 40.0  # months later, the usual has moved with the developer (a trend is no habit)
    assert np.isnan(usual(pd.Series([5.0]), pd.Series(["alone"]), pd.Series(weeks[:1])).iloc[0])


def test_ratios_to_the_usual_week_are_taken_against_the_team_that_week():
    ratio = pd.Series([2.0, 2.0, 2.0, 4.0, 1.0, 1.0])
    teams = pd.Series(["a", "a", "a", "a", "b", "b"])
    weeks = pd.Series([date(2026, 9, 7)] * 6)
    adjusted = team_adjusted(ratio, teams, weeks)
    assert adjusted.tolist() == [1.0, 1.0, 1.0, 2.0, 1.0, 1.0]  # team a's whole week doubled: only the 4x stands out
    # team b has two developers that week: too few to tell the team's week from theirs, left as is
    assert team_adjusted(pd.Series([3.0, 1.0]), pd.Series(["b", "b"]), weeks[:2]).tolist() == [3.0, 1.0]


def test_features_against_the_usual_week():
    rows = [week_sums(week_start=date(2026, 7, 6) + timedelta(weeks=i), interactions=20) for i in range(6)]
    rows[5].update(interactions=60, acceptances_excl_agent_edit=18)  # three times the prompts, a third the acceptance
    frame = user_week_features(pd.DataFrame(rows))
    last = frame.iloc[5]
    assert last["interactions_vs_usual"] == pytest.approx(3.0)
    assert last["acceptance_vs_usual"] == pytest.approx((18 / 180) / (54 / 180))
    assert frame["weeks_active"].tolist() == [6] * 6
