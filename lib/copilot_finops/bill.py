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
