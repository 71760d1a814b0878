"""The team cost model on a hand-built warehouse whose every figure is worked out below, and on the demo org.

The hand-built org (`tiny_org`): business seats at 19 USD, four people, two teams.

- u1 is on alpha and beta (a user on two teams), holds a seat all along.
- u2 joins alpha on 2026-10-11 with a new seat (a joiner): 21 of October's 31 days.
- u3 leaves alpha after 2026-10-20 (a leaver): the seat is billed to its cancellation on 2026-11-01.
- u4 is on beta only; beta has two members (a team under five users).
- September has seats and teams but no usage (a month with no usage); May is billed in premium requests, June in
  AI credits, before GitHub's daily credit field starts on 2026-06-19 (the change of billing model).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from copilot_finops.period import parse_period
from copilot_finops import bill, cost, seats, usage, warehouse
from copilot_finops.params import OrgParams, load_params

SEAT = 19.0
OCT = parse_period("2026-10")
SEP = parse_period("2026-09")
MAY = parse_period("2026-05")
JUN = parse_period("2026-06")
USERS = {"u1": 1, "u2": 2, "u3": 3, "u4": 4}
TEAMS = {"alpha": 10, "beta": 20}


def _days(first: date, last: date):
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def build_tiny_org(path) -> None:
    """Write the hand-built org into a fresh warehouse at `path` (views created by the writable connect)."""
    con = warehouse.connect(path)
    memberships = [("u1", "alpha", date(2026, 5, 1), date(2026, 10, 31)),
                   ("u3", "alpha", date(2026, 5, 1), date(2026, 10, 20)),
                   ("u2", "alpha", date(2026, 10, 11), date(2026, 10, 31)),
                   ("u1", "beta", date(2026, 5, 1), date(2026, 10, 31)),
                   ("u4", "beta", date(2026, 5, 1), date(2026, 10, 31))]
    team_days = pd.DataFrame([(d, USERS[u], TEAMS[t], t, u, "1") for u, t, a, b in memberships for d in _days(a, b)],
                             columns=["day", "user_id", "team_id", "team_slug", "user_login", "organization_id"])
    con.register("team_days", team_days)
    con.execute("INSERT INTO user_team_day SELECT * FROM team_days")
    con.executemany("INSERT INTO team (team_id, slug, name) VALUES (?, ?, ?)", [(i, s, s) for s, i in TEAMS.items()])
    seats = [  # snapshot_day, login, created_at, pending_cancellation_date
        (date(2026, 5, 1), "u1", datetime(2025, 1, 1), None), (date(2026, 5, 1), "u3", datetime(2025, 1, 1), None),
        (date(2026, 5, 1), "u4", datetime(2025, 6, 1), None),
        (date(2026, 10, 31), "u1", datetime(2025, 1, 1), None), (date(2026, 10, 31), "u2", datetime(2026, 10, 11, 9), None),
        (date(2026, 10, 31), "u3", datetime(2025, 1, 1), date(2026, 11, 1)),
        (date(2026, 10, 31), "u4", datetime(2025, 6, 1), None)]
    con.executemany("INSERT INTO seat (snapshot_day, user_id, user_login, plan_type, created_at, pending_cancellation_date) "
                    "VALUES (?, ?, ?, 'business', ?, ?)", [(s, USERS[u], u, c, p) for s, u, c, p in seats])
    # usage: (day, login, interactions, generations, acceptances, cli_requests, ai_credits_used, features)
    usage_days = [
        (date(2026, 10, 5), "u1", 7, 15, 4, 3, 100.0, [("code_completion", 0, 10, 4), ("agent_edit", 0, 5, 0),
                                                       ("chat_panel_ask_mode", 7, 0, 0)]),
        (date(2026, 10, 12), "u2", 5, 10, 5, 0, 50.0, [("code_completion", 0, 10, 5), ("chat_panel_ask_mode", 5, 0, 0)]),
        (date(2026, 10, 15), "u3", 2, 4, 1, 0, 30.0, [("code_completion", 0, 4, 1), ("chat_inline", 2, 0, 0)]),
        (date(2026, 10, 25), "u3", 1, 2, 1, 0, 40.0, [("code_completion", 0, 2, 1), ("chat_inline", 1, 0, 0)]),
        (date(2026, 10, 6), "u4", 4, 8, 2, 0, 20.0, [("code_completion", 0, 8, 2), ("chat_inline", 4, 0, 0)]),
        # May: premium requests era (no daily credits)
        (date(2026, 5, 4), "u1", 10, 0, 0, 0, None, [("chat_panel_ask_mode", 10, 0, 0)]),
        (date(2026, 5, 5), "u4", 5, 0, 0, 0, None, [("chat_panel_ask_mode", 5, 0, 0)]),
        # June: credits billed from 06-01, GitHub's daily field from 06-19
        (date(2026, 6, 10), "u1", 6, 0, 0, 0, None, [("chat_panel_ask_mode", 6, 0, 0)]),
        (date(2026, 6, 15), "u1", 2, 0, 0, 0, None, [("chat_panel_ask_mode", 2, 0, 0)]),
        (date(2026, 6, 20), "u1", 4, 0, 0, 0, 300.0, [("chat_panel_ask_mode", 4, 0, 0)]),
    ]
    for day, login, inter, gen, acc, cli, credits, features in usage_days:
        con.execute("""INSERT INTO user_day (day, user_id, user_login, user_initiated_interaction_count,
                       code_generation_activity_count, code_acceptance_activity_count, used_cli, cli_requests,
                       cli_prompts, ai_credits_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [day, USERS[login], login, inter, gen, acc, cli > 0, cli, 1 if cli else 0, credits])  # 1 CLI prompt
        for feature, f_inter, f_gen, f_acc in features:
            con.execute("""INSERT INTO user_day_feature (day, user_id, feature, user_initiated_interaction_count,
                           code_generation_activity_count, code_acceptance_activity_count) VALUES (?, ?, ?, ?, ?, ?)""",
                        [day, USERS[login], feature, f_inter, f_gen, f_acc])
    con.execute("""INSERT INTO user_day_language_feature (day, user_id, language, feature, code_generation_activity_count,
                   loc_added_sum) VALUES ('2026-10-05', 1, 'markdown', 'code_completion', 4, 8),
                   ('2026-10-05', 1, 'go', 'code_completion', 6, 12), ('2026-10-12', 2, 'yaml', 'code_completion', 10, 20)""")
    billing = [("2026-05", "u1", "premium-request-usage", 500.0), ("2026-05", "u4", "premium-request-usage", 100.0),
               ("2026-06", "u1", "ai-credit-usage", 1000.0)]
    con.executemany("""INSERT INTO credit_usage (period, user_login, model, sku, product, billing_kind, gross_quantity)
                       VALUES (?, ?, 'm', 's', 'copilot', ?, ?)""", billing)
    prs = [("org/alpha", 1, "u1", 1, datetime(2026, 10, 7, 12)), ("org/alpha", 2, "u3", 3, datetime(2026, 10, 25, 12)),
           ("org/alpha", 3, "u2", 2, None)]
    con.executemany("INSERT INTO pull_request (repo, number, author_login, author_id, merged_at) VALUES (?, ?, ?, ?, ?)", prs)
    con.executemany("INSERT INTO pull_request_file (repo, number, filename, additions, deletions) VALUES (?, ?, ?, ?, ?)",
                    [("org/alpha", 1, "tests/test_pay.py", 10, 0), ("org/alpha", 1, "docs/guide.md", 5, 0),
                     ("org/alpha", 1, "src/pay.go", 20, 5), ("org/alpha", 2, "src/other.go", 50, 0)])
    warehouse.refresh_materialized(con)  # as a report run does before its notebooks
    con.close()


def org_params(**overrides) -> OrgParams:
    return OrgParams.model_validate({"org": "tiny", "segments": {"platform_sre": {"label": "Platform", "teams": ["alpha"]}},
                                     **overrides})


def _row(frame: pd.DataFrame, team: str) -> pd.Series:
    return frame.set_index("team_slug").loc[team]


# -- seats: joiners, leavers, two teams --------------------------------------------------------------------------
def test_seat_cost_prorates_joiners_and_leavers_and_counts_a_two_team_user_in_both(tiny):
    costs = cost.team_costs(tiny, OCT, org_params())
    alpha, beta = _row(costs, "alpha"), _row(costs, "beta")
    # alpha: u1 31 days + u2 21 days (joined 10-11) + u3 20 days (left after 10-20) = 72 seat-days of 31
    assert alpha["seat_months"] == pytest.approx(72 / 31)
    assert alpha["seat_cost"] == pytest.approx(72 / 31 * SEAT)
    assert beta["seat_cost"] == pytest.approx(2 * SEAT)  # u1 (also on alpha) and u4
    assert alpha["members"] == 3 and beta["members"] == 2


def test_org_counts_each_seat_once_and_bills_a_cancelled_seat_to_its_end(tiny):
    org = cost.org_costs(tiny, OCT, org_params())
    # u1 31 + u2 21 + u3 31 (billed until the cancellation on 11-01) + u4 31
    assert org["seat_months"] == pytest.approx(114 / 31)
    assert org["seat_cost"] == pytest.approx(114 / 31 * SEAT)
    assert org["seats_on_no_team"] == pytest.approx(11 / 31)  # u3 from 10-21, off every team but still billed


def test_usage_metrics_of_a_team_month(tiny):
    costs = cost.team_costs(tiny, OCT, org_params())
    alpha = _row(costs, "alpha")
    # on alpha days: u1 (10-05), u2 (10-12), u3 (10-15); u3's 10-25 is after leaving and does not count
    assert alpha["active_developers"] == 3
    assert alpha["requests"] == (7 + 3) + 5 + 2  # IDE prompts + CLI requests (the agent's follow-ups too)
    assert alpha["requests_per_active_developer"] == pytest.approx(17 / 3)
    assert alpha["prompts"] == (7 + 1) + 5 + 2  # IDE prompts + CLI prompts: what people asked
    assert alpha["prompts_per_active_developer"] == pytest.approx(15 / 3)
    # acceptances over generations, agent_edit left out: (4 + 5 + 1) / (10 + 10 + 4), not over 29 generations
    assert alpha["accepted_output_ratio"] == pytest.approx(10 / 24)
    assert alpha["ai_credits"] == pytest.approx(180.0)
    assert _row(costs, "beta")["ai_credits"] == pytest.approx(120.0)  # u1 counts in beta too
    assert cost.org_month_quantities(tiny, OCT)["ai_credits"] == pytest.approx(240.0)  # each user once


def test_cost_per_merged_change_counts_prs_merged_while_on_the_team(tiny):
    alpha = _row(cost.team_costs(tiny, OCT, org_params()), "alpha")
    assert alpha["merged_prs"] == 1  # u3's PR merged after leaving and u2's unmerged PR do not count
    assert alpha["cost_per_merged_change"] == pytest.approx(alpha["total_cost"])


def test_a_month_with_no_usage_costs_its_seats_and_has_no_ratios(tiny):
    costs = cost.team_costs(tiny, SEP, org_params())
    alpha = _row(costs, "alpha")
    assert alpha["seat_cost"] == pytest.approx(2 * SEAT)  # u1 and u3, all September
    assert alpha["active_developers"] == 0 and alpha["ai_credits"] == 0 and alpha["total_cost"] == pytest.approx(2 * SEAT)
    for measure in ("requests_per_active_developer", "accepted_output_ratio", "cost_per_merged_change"):
        assert np.isnan(alpha[measure])


def test_a_team_under_k_members_is_kept_and_flagged(tiny):
    costs = cost.team_costs(tiny, OCT, org_params())
    assert bool(_row(costs, "beta")["below_k"]) and bool(_row(costs, "alpha")["below_k"])
    assert not bool(_row(cost.team_costs(tiny, OCT, org_params(privacy={"k_anonymity": 2})), "beta")["below_k"])


# -- AI credits and the included pool ---------------------------------------------------------------------------
def test_pool_allocation_charges_the_orgs_overage_to_teams_beyond_their_share(tiny):
    prm = org_params(prices={"included_credits_per_seat": {"business": 50, "enterprise": 100}})
    costs = cost.team_costs(tiny, OCT, prm)
    org = cost.org_costs(tiny, OCT, prm, costs)
    pool = Fraction(50) * Fraction(114, 31)
    overage = 240 - pool
    excess_alpha, excess_beta = 180 - Fraction(50) * Fraction(72, 31), Fraction(120 - 100)
    assert org["overage_credits"] == pytest.approx(float(overage))
    assert _row(costs, "alpha")["billed_credits"] == pytest.approx(float(overage * excess_alpha / (excess_alpha + excess_beta)))
    assert _row(costs, "beta")["billed_credits"] == pytest.approx(float(overage * excess_beta / (excess_alpha + excess_beta)))
    assert costs["ai_credit_cost"].sum() == pytest.approx(org["ai_credit_cost"])  # the teams' charges make the bill
    assert org["ai_credit_cost"] == pytest.approx(float(overage) * 0.01)


def test_allocate_pool_methods_on_a_hand_computed_frame():
    teams = pd.DataFrame({"team_slug": ["a", "b", "c"], "ai_credits": [300.0, 100.0, 50.0],
                          "pool_share": [100.0, 150.0, 100.0]})
    # org pool 350, org used 450 -> overage 100; excess a 200, b 0, c 0
    seat = cost.allocate_pool(teams, 450.0, 350.0, "seat_share")
    assert seat["billed_credits"].tolist() == pytest.approx([100.0, 0.0, 0.0])
    assert seat["overage_credits"].tolist() == pytest.approx([200.0, 0.0, 0.0])
    by_use = cost.allocate_pool(teams, 450.0, 350.0, "usage_share")
    assert by_use["billed_credits"].tolist() == pytest.approx([100 * 300 / 450, 100 * 100 / 450, 100 * 50 / 450])
    assert cost.allocate_pool(teams, 450.0, 350.0, "none")["billed_credits"].tolist() == [300.0, 100.0, 50.0]
    under = cost.allocate_pool(teams, 300.0, 350.0, "seat_share")  # the pool covers the org: nobody pays
    assert under["billed_credits"].sum() == 0 and under["overage_credits"].iloc[0] == 200.0
    with pytest.raises(ValueError, match="allowed"):
        cost.allocate_pool(teams, 1.0, 1.0, "fair")


def test_no_credit_cost_while_the_org_is_within_its_pool(tiny):
    costs = cost.team_costs(tiny, OCT, org_params())  # 1,900 credits per seat: far more than 240 used
    assert costs["ai_credit_cost"].sum() == 0
    assert _row(costs, "alpha")["pool_share"] == pytest.approx(1900 * 72 / 31)


# -- the change of billing model on 2026-06-01 -----------------------------------------------------------------
def test_premium_requests_are_billed_beyond_each_users_allowance_before_credit_billing(tiny):
    costs = cost.team_costs(tiny, MAY, org_params())
    # u1: 500 requests, 300 included -> 200 billable at 0.04; u4: 100 requests, all included
    assert _row(costs, "alpha")["premium_cost"] == pytest.approx(200 * 0.04)
    assert _row(costs, "beta")["premium_cost"] == pytest.approx(200 * 0.04)  # u1 is on beta too
    assert costs["ai_credit_cost"].sum() == 0 and costs["pool_share"].sum() == 0
    org = cost.org_costs(tiny, MAY, org_params(), costs)
    assert org["premium_cost"] == pytest.approx(8.0) and org["ai_credit_cost"] == 0


def test_credits_billed_before_the_daily_field_are_spread_by_activity(tiny):
    days = tiny.execute("""SELECT day, ai_credits, credit_signal FROM int_cost_user_day
                           WHERE user_id = 1 AND period = '2026-06' ORDER BY day""").fetchall()
    # 1,000 billed, 300 seen on 06-20; the other 700 spread over 06-10 and 06-15 by chat prompts (6 and 2)
    assert [(d, round(c, 6), s) for d, c, s in days] == [
        (date(2026, 6, 10), 525.0, "billing, spread by activity"), (date(2026, 6, 15), 175.0, "billing, spread by activity"),
        (date(2026, 6, 20), 300.0, "telemetry")]
    june = cost.team_costs(tiny, JUN, org_params())
    assert _row(june, "alpha")["ai_credits"] == pytest.approx(1000.0)
    assert june["premium_cost"].sum() == 0


def test_price_team_months_uses_the_plan_of_each_seat():
    prm = org_params(plan="business")
    q = pd.DataFrame({"team_slug": ["a"], "members": [3], "active_developers": [3], "seat_months": [3.0],
                      "business_seat_months": [1.0], "enterprise_seat_months": [1.0], "prompts": [20], "requests": [30],
                      "cli_requests": [0], "generations_excl_agent_edit": [10], "acceptances_excl_agent_edit": [3],
                      "ai_credits": [0.0], "merged_prs": [2]})
    org = {"seat_months": 3.0, "business_seat_months": 1.0, "enterprise_seat_months": 1.0, "ai_credits": 0.0}
    row = cost.price_team_months(q, org, prm, OCT).iloc[0]
    assert row["seat_cost"] == pytest.approx(19 + 39 + 19)  # the seat of no known plan is priced at the org's plan
    assert row["pool_share"] == pytest.approx(1900 + 3900 + 1900)
    assert row["cost_per_merged_change"] == pytest.approx(77 / 2)


def test_inactive_seats_and_their_monthly_cost(tiny):
    inactive = seats.inactive_seats(tiny, date(2026, 10, 31), org_params()).set_index("team_slug")
    # active in the last 30 days: u1 (10-05), u2 (10-12), u3 (10-25), u4 (10-06): nobody is inactive on 10-31
    assert inactive.empty
    later = seats.inactive_seats(tiny, date(2026, 10, 31), org_params(guardrails={"inactive_seat_days": 20})).set_index("team_slug")
    # 20 days before 10-31 is 10-11: u1 (last 10-05) and u4 (last 10-06) are inactive; u1 sits on both teams
    assert later.loc["(org)", "inactive_seats"] == 2 and later.loc["(org)", "monthly_cost"] == pytest.approx(2 * SEAT)
    assert later.loc["beta", "inactive_seats"] == 2 and later.loc["alpha", "inactive_seats"] == 1


# -- on the demo org -------------------------------------------------------------------------------------------
PARAMS_DIR = Path(__file__).resolve().parents[1] / "params"


def test_cost_model_agrees_with_the_usage_summary_on_the_demo_org(small_demo):
    prm = load_params(PARAMS_DIR)
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        costs = cost.team_costs(con, OCT, prm)
        org = cost.org_costs(con, OCT, prm, costs)
        for team in costs.loc[~costs["below_k"], "team_slug"]:
            summary = usage.team_period_summary(con, team, OCT, prm.privacy.k_anonymity)["team"]
            row = _row(costs, team)
            assert row["active_developers"] == summary["active_developers"]
            assert row["prompts_per_active_developer"] == pytest.approx(summary["prompts_per_active_developer"])
            if summary["requests_per_active_developer"] is not None:  # None: suppressed with a small CLI group
                assert row["requests_per_active_developer"] == pytest.approx(summary["requests_per_active_developer"])
            assert row["accepted_output_ratio"] == pytest.approx(summary["accepted_output_ratio"])
            assert row["ai_credits"] == pytest.approx(summary["ai_credits_used"])
        # a user on two teams counts in both, so team seats add up to at least the org's seats on teams
        assert costs["seat_months"].sum() >= org["seat_months"] - org["seats_on_no_team"] - 1e-9
        assert org["ai_credits"] == pytest.approx(float(con.execute(
            "SELECT sum(ai_credits_used) FROM user_day WHERE day BETWEEN ? AND ?", [OCT.start, OCT.end]).fetchone()[0]))
        split = bill.split_team_quantities(con, OCT, prm)  # the export's basis: each user-day once
        assert split["seat_months"].sum() == pytest.approx(org["seat_months"])
        assert split["ai_credits"].sum() == pytest.approx(org["ai_credits"])
    finally:
        con.close()


def test_the_promotional_pool_applies_only_to_its_months_and_only_when_params_say_so(tiny):
    from pydantic import ValidationError

    on = org_params(prices={"promotional_pool": {"applies": True}})
    seat_months = {"seat_months": 2.0}
    for label, per_seat in (("2026-05", 1900), ("2026-06", 3000), ("2026-08", 3000), ("2026-09", 1900)):
        assert cost.included_pool(seat_months, on, parse_period(label)) == 2 * per_seat, label
    assert cost.included_pool(seat_months, org_params(), JUN) == 2 * 1900  # off by default: not an existing customer
    june_on, june_off = cost.org_costs(tiny, JUN, on), cost.org_costs(tiny, JUN, org_params())
    assert june_on["pool_credits"] == pytest.approx(june_on["seat_months"] * 3000)
    assert june_off["pool_credits"] == pytest.approx(june_off["seat_months"] * 1900)
    assert cost.org_costs(tiny, OCT, on)["pool_credits"] == pytest.approx(cost.org_costs(tiny, OCT, org_params())["pool_credits"])
    with pytest.raises(ValidationError, match="not after start"):
        org_params(prices={"promotional_pool": {"applies": True, "start": "2026-09-01", "end": "2026-06-01"}})


def test_active_users_without_a_seat_here_are_counted_and_flagged(small_demo, tmp_path):
    """A developer billed through another org of the enterprise: activity and credits here, no seat here."""
    import shutil

    import duckdb

    from copilot_finops import cost_display

    shutil.copy(small_demo.warehouse, tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    user_id, team = con.execute("""
        SELECT m.user_id, any_value(m.team_slug) FROM int_team_member_day m JOIN int_user_day_usage u USING (day, user_id)
        WHERE u.active AND m.day BETWEEN ? AND ? GROUP BY m.user_id ORDER BY m.user_id LIMIT 1""",
                                 [OCT.start, OCT.end]).fetchone()
    credits = con.execute("SELECT sum(ai_credits) FROM int_cost_user_day WHERE user_id = ? AND period = '2026-10'",
                          [user_id]).fetchone()[0]
    con.execute("DELETE FROM seat WHERE user_id = ?", [user_id])
    warehouse.refresh_materialized(con)  # as a report run does before its notebooks
    con.close()
    prm = load_params(PARAMS_DIR)
    con, before = (warehouse.connect(p, read_only=True) for p in (tmp_path / "w.duckdb", small_demo.warehouse))
    try:
        org, mine = seats.users_without_seat(con, OCT), seats.users_without_seat(con, OCT, team)
        untouched = seats.users_without_seat(before, OCT)
    finally:
        con.close()
        before.close()
    assert untouched == {"users": 0, "ai_credits": 0.0} and cost_display.seatless_markdown(untouched, prm) == ""
    assert org["users"] == mine["users"] == 1 and org["ai_credits"] == pytest.approx(credits)
    flag = cost_display.seatless_markdown(mine, prm, team)
    # one person: flagged, but neither counted exactly nor their credits shown
    assert "fewer than 5" in flag and "suppressed (< 5)" in flag and f"{credits:,.0f}" not in flag
