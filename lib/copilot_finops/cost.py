"""Team cost model: what each team spends on Copilot in a month, and what it gets for it.

Quantities come from the warehouse views (`mart_team_month_cost`, `mart_team_day_cost`, `int_cost_*`); every
price comes from params. The pure functions here (`seat_cost`, `allocate_pool`, `price_team_months`) take and
return frames so they can be tested on hand-computed numbers; the `*_costs` functions read the warehouse.

Definitions (one place for each):

- seat cost: seat-months x the plan's monthly price. A seat-month is seat-days / days in the month, so joiners
  and leavers pay for the days they held a seat while on the team.
- AI-credit cost (from `prices.credit_billing_start`): the included pool (credits per seat per month x the org's
  seat-months) is allocated across teams by `pool_allocation`:
    seat_share (default): each team's share of the pool is its seat-months x the included credits; the org's
      overage (credits beyond the whole pool) is charged to the teams that used beyond their share, in proportion
      to how far beyond. Team charges add up to the org's bill.
    usage_share: the org's overage is charged in proportion to each team's credits.
    none: no pool; every credit is charged to the team that used it.
- premium-request cost (months before credit billing): requests beyond each user's monthly allowance x price.
- cost per merged change: team cost / pull requests merged by its members.

How these figures are written on a page is `cost_display` (through `figures`).

Team figures follow GitHub's join rule (a user on two teams counts in both); org figures count each user once,
so team totals can add up to more than the org's.
"""
from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd

from . import bill, cache, gaps
from .params import OrgParams
from .period import Period

POOL_METHODS = ("seat_share", "usage_share", "none")
PLANS = ("business", "enterprise")


# -- pure pricing ---------------------------------------------------------------------------------------------
def seat_cost(seat_months: pd.DataFrame, params: OrgParams) -> pd.Series:
    """Seat cost in the billing currency.

    Parameters
    ----------
    seat_months : frame with `seat_months` and, optionally, `business_seat_months` and `enterprise_seat_months`;
        seat-months of no known plan are priced at the org's plan (`params.plan`).
    """
    prices = params.prices.seat_per_month
    by_plan = {p: seat_months.get(f"{p}_seat_months", 0.0) for p in PLANS}
    unknown = seat_months["seat_months"] - sum(by_plan.values())
    return sum(by_plan[p] * prices[p] for p in PLANS) + unknown * prices[params.plan]


def included_pool(seat_months: pd.DataFrame | pd.Series | dict, params: OrgParams,
                  period: Period | None = None) -> float | pd.Series:
    """Included AI credits for the given seat-months (same columns as `seat_cost`) of `period` (the promotional
    pool where params say it applies to that month; None: the standard pool)."""
    per_seat = params.prices.included_credits_for(period.start if period is not None else None)
    by_plan = {p: seat_months.get(f"{p}_seat_months", 0.0) for p in PLANS}
    unknown = seat_months["seat_months"] - sum(by_plan.values())
    return sum(by_plan[p] * per_seat[p] for p in PLANS) + unknown * per_seat[params.plan]


def allocate_pool(teams: pd.DataFrame, org_credits: float, org_pool: float, method: str) -> pd.DataFrame:
    """Share the org's AI-credit bill across teams.

    Parameters
    ----------
    teams : one row per team with `ai_credits` (credits used) and `pool_share` (credits of the included pool the
        team's seats bring: seat-months x included credits per seat).
    org_credits : credits used by the whole org, each user once.
    org_pool : the org's included credits for the month.
    method : 'seat_share', 'usage_share' or 'none' (see the module docstring).

    Returns
    -------
    Copy of `teams` with `overage_credits` (credits beyond the team's share, before pooling) and `billed_credits`
    (the team's part of the org's bill, in credits). Under seat_share and usage_share, billed_credits add up to
    the org's overage max(0, org_credits - org_pool) whenever some team used beyond its share.
    """
    if method not in POOL_METHODS:
        raise ValueError(f"pool_allocation {method!r}; allowed: {', '.join(POOL_METHODS)}")
    out = teams.copy()
    credits = out["ai_credits"].astype(float)
    out["overage_credits"] = (credits - out["pool_share"]).clip(lower=0.0)
    org_overage = max(0.0, float(org_credits) - float(org_pool))
    if method == "none":
        out["billed_credits"] = credits
    elif method == "seat_share":
        total_excess = out["overage_credits"].sum()
        out["billed_credits"] = org_overage * out["overage_credits"] / total_excess if total_excess > 0 else 0.0
    else:
        total = credits.sum()
        out["billed_credits"] = org_overage * credits / total if total > 0 else 0.0
    return out


def _ratio(numerator, denominator):
    num = pd.Series(numerator, dtype="float64")
    den = pd.Series(denominator, dtype="float64")
    return num / den.where(den > 0)


def price_team_months(quantities: pd.DataFrame, org: dict, params: OrgParams, period: Period,
                      premium_billable: pd.Series | None = None) -> pd.DataFrame:
    """Turn team-month quantities (rows of `mart_team_month_cost`) into the cost model.

    Parameters
    ----------
    quantities : frame with team_slug, members, active_developers, seat_months (+ per-plan columns), prompts,
        requests, cli_requests, generations_excl_agent_edit, acceptances_excl_agent_edit, ai_credits, merged_prs.
    org : the org's de-duplicated month: seat_months (+ per plan), ai_credits.
    premium_billable : premium requests beyond the users' allowances, per team_slug (months before credit billing).

    Returns
    -------
    One row per team: the quantities plus seat_cost, pool_share, overage_credits, billed_credits,
    ai_credit_cost, premium_cost, total_cost, cost_per_merged_change, cost_per_active_developer,
    prompts_per_active_developer, requests_per_active_developer, accepted_output_ratio, credits_per_active_developer,
    cli_requests_per_active_developer, segment. Money is in the billing currency.
    """
    frame = quantities.copy().reset_index(drop=True)
    frame["segment"] = [params.segment_of(t) for t in frame["team_slug"]]
    frame["seat_cost"] = seat_cost(frame, params)
    in_credit_era = credit_era(period, params)
    if in_credit_era:
        frame["pool_share"] = included_pool(frame, params, period)
        frame = allocate_pool(frame, org["ai_credits"], included_pool(org, params, period), params.pool_allocation)
    else:
        frame["pool_share"] = 0.0
        frame["overage_credits"] = 0.0
        frame["billed_credits"] = 0.0
    frame["ai_credit_cost"] = frame["billed_credits"] * params.prices.ai_credit
    billable = (frame["team_slug"].map(premium_billable).fillna(0.0) if premium_billable is not None and not in_credit_era
                else pd.Series(0.0, index=frame.index))
    frame["premium_billable_requests"] = billable.astype(float)
    frame["premium_cost"] = frame["premium_billable_requests"] * params.prices.premium_request
    frame["total_cost"] = frame["seat_cost"] + frame["ai_credit_cost"] + frame["premium_cost"]
    devs = frame["active_developers"]
    frame["cost_per_merged_change"] = _ratio(frame["total_cost"], frame["merged_prs"])
    frame["cost_per_active_developer"] = _ratio(frame["total_cost"], devs)
    frame["prompts_per_active_developer"] = _ratio(frame["prompts"], devs)
    frame["requests_per_active_developer"] = _ratio(frame["requests"], devs)
    frame["accepted_output_ratio"] = _ratio(frame["acceptances_excl_agent_edit"], frame["generations_excl_agent_edit"])
    frame["credits_per_active_developer"] = _ratio(frame["ai_credits"], devs)
    frame["cli_requests_per_active_developer"] = _ratio(frame["cli_requests"], devs)
    return frame


# -- warehouse reads ------------------------------------------------------------------------------------------
def team_month_quantities(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    """Rows of `mart_team_month_cost` for the period (teams with no member in the month are absent)."""
    return con.execute("SELECT * FROM mart_team_month_cost WHERE period = ? ORDER BY team_slug", [period.label]).df()


def org_month_quantities(con: duckdb.DuckDBPyConnection, period: Period, until: date | None = None) -> dict:
    """The org's month, each user once: seat-months by plan, credits, premium requests, active developers.

    `until` (inclusive) cuts the month short, e.g. at a guardrail's as-of day; seat-months stay over the whole
    month's length so that they price as a fraction of the monthly seat price.
    """
    return org_months(con, [period], until)[period.label]


def org_months(con: duckdb.DuckDBPyConnection, periods: list[Period], until: date | None = None) -> dict[str, dict]:
    """`org_month_quantities` of several months in one pass, keyed by period label."""
    first = min(p.start for p in periods)
    last = max(p.end for p in periods) if until is None else min(max(p.end for p in periods), until)
    seats = con.execute("""
        SELECT strftime(day, '%Y-%m') AS period, day(last_day(min(day))) AS dim, count(*) AS seat_days,
               count(*) FILTER (WHERE plan_type = 'business') AS business, count(*) FILTER (WHERE plan_type = 'enterprise') AS enterprise
        FROM int_cost_seat_day WHERE day BETWEEN ? AND ? GROUP BY 1""", [first, last]).fetchall()
    use = con.execute("""
        SELECT period, coalesce(sum(ai_credits), 0), coalesce(sum(premium_requests), 0),
               count(DISTINCT user_id) FILTER (WHERE active)
        FROM int_cost_user_day WHERE day BETWEEN ? AND ? GROUP BY 1""", [first, last]).fetchall()
    seat_by = {r[0]: r[1:] for r in seats}
    use_by = {r[0]: r[1:] for r in use}
    out = {}
    for p in periods:
        dim, seat_days, business, enterprise = seat_by.get(p.label, (1, 0, 0, 0))
        credits, premium, devs = use_by.get(p.label, (0.0, 0.0, 0))
        out[p.label] = {"seat_months": seat_days / dim, "business_seat_months": business / dim,
                        "enterprise_seat_months": enterprise / dim, "ai_credits": float(credits),
                        "premium_requests": float(premium), "active_developers": int(devs)}
    return out


def premium_billable_requests(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> pd.Series:
    """Premium requests beyond each user's monthly allowance, per team (join rule).

    The allowance is per user and month (not pooled); a user's billable share is spread over their requests, so a
    user on two teams brings the same share to both. The org's figure is the sum of `bill.split_team_quantities`.
    """
    allowance = params.prices.premium_requests_included_per_seat
    rows = con.execute("""
        WITH user_month AS (
            SELECT user_id, sum(premium_requests) AS total FROM int_cost_user_day WHERE period = ? GROUP BY user_id),
        plan AS (
            SELECT user_id, arg_max(plan_type, day) AS plan_type FROM int_cost_seat_day
            WHERE day BETWEEN ? AND ? GROUP BY user_id),
        factor AS (
            SELECT m.user_id,
                   CASE WHEN m.total > 0 THEN greatest(m.total - CASE coalesce(p.plan_type, ?)
                        WHEN 'enterprise' THEN ? WHEN 'business' THEN ? ELSE ? END, 0) / m.total ELSE 0 END AS billable
            FROM user_month m LEFT JOIN plan p USING (user_id)),
        members AS (SELECT day, user_id, team_slug FROM int_team_member_day WHERE day BETWEEN ? AND ?)
        SELECT m.team_slug, sum(c.premium_requests * f.billable) AS billable
        FROM int_cost_user_day c JOIN factor f USING (user_id) JOIN members m USING (day, user_id)
        WHERE c.period = ?
        GROUP BY 1
    """, [period.label, period.start, period.end, params.plan, allowance["enterprise"], allowance["business"],
          allowance[params.plan], period.start, period.end, period.label]).fetchall()
    return pd.Series({team: float(v or 0.0) for team, v in rows}, dtype="float64")


def team_costs(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams,
               quantities: pd.DataFrame | None = None, org: dict | None = None) -> pd.DataFrame:
    """The cost model for every team with members in the period (see `price_team_months` for the columns).

    Teams with fewer than k members are kept (budgets need them) and flagged `below_k`: displays must suppress
    their figures. `quantities` (rows of `mart_team_month_cost` for the period) and `org` (its
    `org_month_quantities`) save reading them again.
    """
    if quantities is None:
        quantities = team_month_quantities(con, period)
    if org is None:
        org = org_month_quantities(con, period)
    premium = None
    if period.start < params.prices.credit_billing_start:
        premium = premium_billable_requests(con, period, params)
    frame = price_team_months(quantities, org, params, period, premium)
    frame["below_k"] = frame["members"] < params.privacy.k_anonymity
    return frame


@cache.memoised("team-costs-history")
def team_costs_history(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, months: int = 3) -> pd.DataFrame:
    """`team_costs` for the period and the `months` months before it (those with data), stacked, with `period`.

    Org-wide (every team's rows): memoised beside the warehouse, as each team's cost notebook reads it.
    """
    periods = [period]
    for _ in range(months):
        periods.insert(0, periods[0].previous)
    labels = [p.label for p in periods]
    quantities = con.execute("SELECT * FROM mart_team_month_cost WHERE list_contains(?, period) ORDER BY period, team_slug",
                             [labels]).df()
    orgs = org_months(con, periods)
    frames = [team_costs(con, p, params, quantities[quantities["period"] == p.label], orgs[p.label]).assign(period=p.label)
              for p in periods if (quantities["period"] == p.label).any()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def credit_bill(org: dict, params: OrgParams, period: Period, credits: float) -> dict:
    """The org's AI-credit bill for `credits` used in `period` by the seats of `org` (`org_month_quantities`): the one
    rule page 02, the what-if (07) and the agents bill price credits by. Returns pool_credits (the month's included
    pool, promotional where it applies), overage_credits (beyond it; every credit with pool_allocation 'none') and
    credit_cost (overage x the credit price); all zero before the credit era."""
    if not credit_era(period, params):
        return {"pool_credits": 0.0, "overage_credits": 0.0, "credit_cost": 0.0}
    pool = float(included_pool(pd.DataFrame([org]), params, period).iloc[0])
    overage = credits if params.pool_allocation == "none" else max(0.0, credits - pool)
    return {"pool_credits": pool, "overage_credits": overage, "credit_cost": overage * params.prices.ai_credit}


def org_costs(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, teams: pd.DataFrame | None = None) -> dict:
    """The org's month, each user once, and how much of it the team view does not attribute.

    Returns seat_months, seat_cost, ai_credits, pool_credits, overage_credits, ai_credit_cost, premium_cost,
    total_cost, active_developers, pool_used, unattributed_credit_cost (credit cost no team's share explains),
    seats_on_no_team / unattributed_seat_cost (seats of people on no team), last_day (of data in the month),
    merged_prs / cost_per_merged_change (every pull request merged in the org's repositories),
    billing_api_credits (the month's credits as the billing API counts them, or None).
    """
    org = org_month_quantities(con, period)
    frame = pd.DataFrame([org])
    seat = float(seat_cost(frame, params).iloc[0])
    in_credit_era = credit_era(period, params)
    credits = credit_bill(org, params, period, org["ai_credits"])
    pool, overage = credits["pool_credits"], credits["overage_credits"]
    premium_cost = 0.0
    if not in_credit_era:
        billable = float(bill.split_team_quantities(con, period, params)["premium_billable_requests"].sum())
        premium_cost = billable * params.prices.premium_request
    out = {**org, "seat_cost": seat, "pool_credits": pool, "overage_credits": overage,
           "ai_credit_cost": overage * params.prices.ai_credit, "premium_cost": premium_cost,
           "pool_used": org["ai_credits"] / pool if pool else None}
    out["total_cost"] = out["seat_cost"] + out["ai_credit_cost"] + out["premium_cost"]
    if teams is None:
        teams = team_costs(con, period, params)
    attributed_credit_cost = float(teams["ai_credit_cost"].sum()) if len(teams) else 0.0
    out["unattributed_credit_cost"] = max(0.0, out["ai_credit_cost"] - attributed_credit_cost)
    out["seats_on_no_team"] = _seat_months_on_no_team(con, period)
    last = last_data_day(con)
    out["last_day"] = min(period.end, last) if last else period.end  # the day a month in progress is seen up to
    out["unattributed_seat_cost"] = out["seats_on_no_team"] * params.seat_price
    out["merged_prs"] = int(con.execute("SELECT count(*) FROM pull_request WHERE merged_at::DATE BETWEEN ? AND ?",
                                        [period.start, period.end]).fetchone()[0])
    out["cost_per_merged_change"] = out["total_cost"] / out["merged_prs"] if out["merged_prs"] else None
    # the billing API's own count, to reconcile with the daily telemetry the model rests on (None if not fetched)
    out["billing_api_credits"] = con.execute("""
        SELECT sum(coalesce(gross_quantity, net_quantity + coalesce(discount_quantity, 0))) FROM credit_usage
        WHERE period = ? AND billing_kind = 'ai-credit-usage'""", [period.label]).fetchone()[0]
    return out


def _seat_months_on_no_team(con: duckdb.DuckDBPyConnection, period: Period) -> float:
    dim = (period.end - period.start).days + 1
    return float(con.execute("""
        SELECT count(*) / ? FROM int_cost_seat_day s
        WHERE s.day BETWEEN ? AND ?
          AND s.day IN (SELECT DISTINCT day FROM int_user_team_day)
          AND NOT EXISTS (SELECT 1 FROM int_user_team_day m WHERE m.day = s.day AND m.user_id = s.user_id)
    """, [dim, period.start, period.end]).fetchone()[0])


def last_data_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day usage figures run to: the last day the users report is complete (`gaps.usage_as_of`)."""
    return gaps.usage_as_of(con)


def credit_era(period: Period, params: OrgParams) -> bool:
    """True when the month is billed in AI credits (else premium requests)."""
    return period.start >= params.prices.credit_billing_start


def nan_to_none(value):
    """JSON-friendly numbers: NaN and numpy scalars become None / plain floats."""
    if value is None:
        return None
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
