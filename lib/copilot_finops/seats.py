"""Seats and the people who hold them: seats nobody uses (no Copilot activity for `guardrails.inactive_seat_days`),
per team and org, and people who use Copilot without a seat in this org."""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from .params import OrgParams
from .period import Period


def inactive_seats(con: duckdb.DuckDBPyConnection, as_of: date, params: OrgParams) -> pd.DataFrame:
    """Seats held on `as_of` with no Copilot activity in the last `guardrails.inactive_seat_days` days.

    Activity is the later of the seats API's last_activity_at (latest snapshot on or before as_of) and the last
    active day in the usage reports. Returns one row per team (join rule on the user's last team day up to as_of)
    plus an '(org)' row counting each seat once: inactive_seats, monthly_cost (what they cost per month).
    """
    days = params.guardrails.inactive_seat_days
    frame = con.execute("""
        WITH held AS (SELECT user_id, plan_type FROM int_cost_seat_day WHERE day = ?),
        last_snapshot AS (
            SELECT user_id, arg_max(last_activity_at, snapshot_day)::DATE AS last_api
            FROM seat WHERE snapshot_day <= ? GROUP BY user_id),
        last_usage AS (SELECT user_id, max(day) AS last_day FROM int_user_day_usage WHERE active AND day <= ? GROUP BY user_id),
        inactive AS (
            SELECT h.user_id, h.plan_type
            FROM held h LEFT JOIN last_snapshot s USING (user_id) LEFT JOIN last_usage u USING (user_id)
            WHERE coalesce(greatest(s.last_api, u.last_day), s.last_api, u.last_day, DATE '1970-01-01') < ? - (? * INTERVAL 1 DAY)),
        team_day AS (SELECT user_id, max(day) AS day FROM int_team_member_day WHERE day <= ? GROUP BY user_id),
        teams AS (SELECT DISTINCT m.user_id, m.team_slug FROM int_team_member_day m JOIN team_day t USING (user_id, day))
        SELECT coalesce(t.team_slug, '(no team)') AS team_slug, i.plan_type, count(*) AS seats
        FROM inactive i LEFT JOIN teams t USING (user_id)
        GROUP BY ALL
        UNION ALL
        SELECT '(org)', plan_type, count(*) FROM inactive GROUP BY ALL
    """, [as_of, as_of, as_of, as_of, days, as_of]).df()
    prices = params.prices.seat_per_month
    frame["monthly_cost"] = frame["seats"] * [prices.get(p, params.seat_price) for p in frame["plan_type"]]
    out = frame.groupby("team_slug", as_index=False)[["seats", "monthly_cost"]].sum()
    return out.rename(columns={"seats": "inactive_seats"}).sort_values("team_slug").reset_index(drop=True)


def users_without_seat(con: duckdb.DuckDBPyConnection, period: Period, team: str | None = None) -> dict:
    """People active in the month who held no seat of this org on any day of it (the org's, or `team`'s members
    on the days they were on it): their seat is billed through another org of the enterprise.

    Their AI credits count in team burn (int_cost_user_day), but they bring no seat-months to this org's included
    pool, so the pool shrinks against the burn. Returns {'users': n, 'ai_credits': credits}.
    """
    member = ("JOIN (SELECT DISTINCT day, user_id FROM int_team_member_day WHERE team_slug = $3) m USING (day, user_id)"
              if team else "")
    row = con.execute(f"""
        WITH seated AS (SELECT DISTINCT user_id FROM int_cost_seat_day WHERE day BETWEEN $1 AND $2),
        used AS (
            SELECT u.user_id, bool_or(u.active) AS active, sum(c.ai_credits) AS ai_credits
            FROM int_user_day_usage u {member} LEFT JOIN int_cost_user_day c USING (day, user_id)
            WHERE u.day BETWEEN $1 AND $2 GROUP BY u.user_id)
        SELECT count(*), coalesce(sum(ai_credits), 0) FROM used
        WHERE active AND user_id NOT IN (SELECT user_id FROM seated)
    """, [period.start, period.end] + ([team] if team else [])).fetchone()
    return {"users": int(row[0]), "ai_credits": float(row[1])}
