"""The org's bill split across teams so that it adds up: each user-day counted once, not once per team.

The cost model follows GitHub's join rule (a user on two teams counts in both); a bill handed to a cost
tool (FOCUS export) or summed into the org's premium cost must not double-count, so here a user on
several teams that day is split equally between them.
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from .params import OrgParams
from .period import Period


def split_team_quantities(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams,
                          until: date | None = None) -> pd.DataFrame:
    """Team quantities for a bill that must add up: a user on several teams is split equally between them.

    The cost model counts such a user in every team (GitHub's join rule); an export to a cost tool must not, so
    here each user-day counts once. team_slug '' collects seats and usage of people on no team that day.
    Columns: team_slug, seat_months, business_seat_months, enterprise_seat_months, ai_credits, premium_requests,
    premium_billable_requests (beyond each user's monthly allowance).
    """
    end = min(period.end, until) if until else period.end
    dim = (period.end - period.start).days + 1
    allowance = params.prices.premium_requests_included_per_seat
    return con.execute("""
        WITH members AS (SELECT day, user_id, team_slug FROM int_team_member_day
                         WHERE team_slug IS NOT NULL AND day BETWEEN ? AND ?),
        weights AS (SELECT day, user_id, team_slug, 1.0 / count(*) OVER (PARTITION BY day, user_id) AS w FROM members),
        plan AS (SELECT user_id, arg_max(plan_type, day) AS plan_type FROM int_cost_seat_day
                 WHERE day BETWEEN ? AND ? GROUP BY user_id),
        billable AS (
            SELECT c.user_id, CASE WHEN sum(c.premium_requests) > 0 THEN greatest(sum(c.premium_requests)
                       - CASE coalesce(any_value(p.plan_type), ?) WHEN 'enterprise' THEN ? WHEN 'business' THEN ? ELSE ? END, 0)
                       / sum(c.premium_requests) ELSE 0 END AS share
            FROM int_cost_user_day c LEFT JOIN plan p USING (user_id) WHERE c.period = ? GROUP BY c.user_id),
        seats AS (
            SELECT coalesce(w.team_slug, '') AS team_slug, sum(coalesce(w.w, 1.0)) / ? AS seat_months,
                   coalesce(sum(coalesce(w.w, 1.0)) FILTER (WHERE s.plan_type = 'business'), 0) / ? AS business_seat_months,
                   coalesce(sum(coalesce(w.w, 1.0)) FILTER (WHERE s.plan_type = 'enterprise'), 0) / ? AS enterprise_seat_months
            FROM int_cost_seat_day s LEFT JOIN weights w USING (day, user_id)
            WHERE s.day BETWEEN ? AND ? GROUP BY 1),
        usage AS (
            SELECT coalesce(w.team_slug, '') AS team_slug, sum(c.ai_credits * coalesce(w.w, 1.0)) AS ai_credits,
                   sum(c.premium_requests * coalesce(w.w, 1.0)) AS premium_requests,
                   sum(c.premium_requests * coalesce(w.w, 1.0) * coalesce(b.share, 0)) AS premium_billable_requests
            FROM int_cost_user_day c LEFT JOIN weights w USING (day, user_id) LEFT JOIN billable b USING (user_id)
            WHERE c.day BETWEEN ? AND ? GROUP BY 1)
        SELECT team_slug, coalesce(s.seat_months, 0) AS seat_months,
               coalesce(s.business_seat_months, 0) AS business_seat_months,
               coalesce(s.enterprise_seat_months, 0) AS enterprise_seat_months,
               coalesce(u.ai_credits, 0) AS ai_credits, coalesce(u.premium_requests, 0) AS premium_requests,
               coalesce(u.premium_billable_requests, 0) AS premium_billable_requests
        FROM seats s FULL OUTER JOIN usage u USING (team_slug)
        ORDER BY team_slug
    """, [period.start, end, period.start, period.end, params.plan, allowance["enterprise"], allowance["business"],
          allowance[params.plan], period.label, dim, dim, dim, period.start, end, period.start, end]).df()


def group_totals(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, groups: dict[str, list[str]],
                 team_costs: pd.DataFrame, until: date | None = None) -> pd.DataFrame:
    """Totals of groups of teams (segments, the org, 'teams with k or more') counting each person once.

    A group is the people on any of its teams, on the days they were on one (GitHub's join rule, applied to the
    group as a whole): a developer on two of its teams counts once, where adding the teams' figures counts them
    twice. Per person-day: the seat (priced at its plan), the AI credits, and the credit and premium-request cost
    at the cost model's rate of the person's teams that day (`team_costs`: ai_credit_cost / ai_credits and
    premium_cost / premium_requests of `cost.team_costs`; the mean when the person is on several of the group's
    teams), so a group of one team gives that team's spend.

    Returns one row per group: group, teams, members, active_developers, ai_credits, seat_cost, ai_credit_cost,
    premium_cost, total_cost (money in the billing currency).
    """
    end = min(period.end, until) if until else period.end
    dim = (period.end - period.start).days + 1
    wanted = sorted({t for teams in groups.values() for t in teams})
    days = con.execute("""
        SELECT m.day, m.user_id, m.team_slug, coalesce(u.active, false) AS active,
               coalesce(c.ai_credits, 0) AS ai_credits, coalesce(c.premium_requests, 0) AS premium_requests,
               s.plan_type
        FROM (SELECT DISTINCT day, user_id, team_slug FROM int_team_member_day
              WHERE day BETWEEN ? AND ? AND list_contains(?, team_slug)) m
        LEFT JOIN int_user_day_usage u USING (day, user_id)
        LEFT JOIN int_cost_user_day c USING (day, user_id)
        LEFT JOIN int_cost_seat_day s USING (day, user_id)
    """, [period.start, end, wanted]).df()
    costs = team_costs.set_index("team_slug")
    credit_rate = (costs["ai_credit_cost"] / costs["ai_credits"].where(costs["ai_credits"] > 0)).fillna(0.0)
    premium_rate = (costs["premium_cost"] / costs["premium_requests"].where(costs["premium_requests"] > 0)).fillna(0.0)
    days["credit_rate"] = days["team_slug"].map(credit_rate).fillna(0.0)
    days["premium_rate"] = days["team_slug"].map(premium_rate).fillna(0.0)
    prices = params.prices.seat_per_month
    rows = []
    for name, teams in groups.items():
        mine = days[days["team_slug"].isin(teams)]
        person_days = mine.groupby(["day", "user_id"]).agg(
            active=("active", "first"), ai_credits=("ai_credits", "first"), premium_requests=("premium_requests", "first"),
            plan_type=("plan_type", "first"), credit_rate=("credit_rate", "mean"), premium_rate=("premium_rate", "mean"))
        seated = person_days["plan_type"].dropna()
        seat_cost = float(sum(prices.get(plan, params.seat_price) for plan in seated)) / dim
        credit_cost = float((person_days["ai_credits"] * person_days["credit_rate"]).sum())
        premium_cost = float((person_days["premium_requests"] * person_days["premium_rate"]).sum())
        users = person_days.reset_index()
        rows.append({"group": name, "teams": len(teams), "members": int(users["user_id"].nunique()),
                     "active_developers": int(users.loc[users["active"], "user_id"].nunique()),
                     "ai_credits": float(person_days["ai_credits"].sum()), "seat_cost": seat_cost,
                     "ai_credit_cost": credit_cost, "premium_cost": premium_cost,
                     "total_cost": seat_cost + credit_cost + premium_cost})
    return pd.DataFrame(rows, columns=["group", "teams", "members", "active_developers", "ai_credits", "seat_cost",
                                       "ai_credit_cost", "premium_cost", "total_cost"])
