"""Copilot usage per team and week, set beside the team's delivery figures for the correlation.

Usage comes from the marts (`mart_team_week_delivery_usage`, built on the same per-day
membership and measures as every usage report); delivery from `metrics`. Weeks where
fewer than k developers were active have their usage blanked, as everywhere else.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from ..period import Period
from . import events, metrics, stats

MAX_WEEKS = 26
USAGE_MEASURES = ("outputs_per_active_developer_day", "requests_per_active_developer", "active_developers",
                  "adoption_share", "accepted_output_ratio", "ai_credits_used", "copilot_pr_share")
# The measure the verdict reads as "usage": what every active developer gets from Copilot in the
# IDE per day of use. Holidays, joiners and leavers do not move it, and neither do a few users'
# CLI agent loops, which dominate request counts (their requests include automated follow-ups).
VERDICT_USAGE = "outputs_per_active_developer_day"
USAGE_LABELS = {
    "outputs_per_active_developer_day": "Outputs per active developer-day",
    "requests_per_active_developer": "Requests per active developer",
    "active_developers": "Active developers",
    "adoption_share": "Adoption (share of members active on a workday)",
    "accepted_output_ratio": "Accepted-output ratio",
    "ai_credits_used": "AI credits",
    "copilot_pr_share": "Share of PRs by Copilot users",
}


def analysis_weeks(con: duckdb.DuckDBPyConnection, period: Period, max_weeks: int = MAX_WEEKS) -> list[date]:
    """The correlation window: up to `max_weeks` weeks (Mondays) ending with the period's last week.

    Only weeks with at least five of their seven days inside the data (first usage day to the
    period's end) count, so a half-covered week at either edge does not pass for a quiet one.
    """
    first = con.execute("SELECT min(day) FROM user_day").fetchone()[0]
    if first is None or first > period.end:
        return []
    last_monday = period.end - timedelta(days=period.end.weekday())
    weeks = []
    for i in range(max_weeks - 1, -1, -1):
        monday = last_monday - timedelta(weeks=i)
        covered = sum(1 for d in range(7) if first <= monday + timedelta(days=d) <= period.end)
        if covered >= 5:
            weeks.append(monday)
    return weeks


def read_week_usage(con: duckdb.DuckDBPyConnection, weeks: list[date]) -> pd.DataFrame:
    """`mart_team_week_delivery_usage` for every team over the window's weeks (one read for all teams)."""
    raw = con.execute("SELECT * FROM mart_team_week_delivery_usage WHERE week_start BETWEEN ? AND ?",
                      [weeks[0], weeks[-1]] if weeks else [date.max, date.min]).df()
    raw["week_start"] = pd.to_datetime(raw["week_start"])
    return raw


def team_week_usage(week_usage: pd.DataFrame, team: str, weeks: list[date], k: int) -> pd.DataFrame:
    """Usage of one team per week, every week in `weeks` present.

    `week_usage` is `read_week_usage`'s frame. Columns: week_start, members, active_developers,
    adoption_share, outputs_per_active_developer_day (generated outputs, agent edits left out, per
    active developer-day), requests_per_active_developer, accepted_output_ratio, ai_credits_used,
    suppressed. Weeks with fewer than `k` active developers (but some) have every usage figure
    blanked (NaN) and `suppressed` set.
    """
    index = pd.DatetimeIndex(pd.to_datetime(weeks), name="week_start")
    raw = week_usage[week_usage["team_slug"] == team].set_index("week_start").reindex(index)
    out = pd.DataFrame(index=index)
    out["members"] = raw["members"].fillna(0).astype("float64")
    out["active_developers"] = raw["active_developers"].fillna(0).astype("float64")
    out["adoption_share"] = raw["workday_adoption"].astype("float64")
    devs = out["active_developers"].where(out["active_developers"] > 0)
    dev_days = raw["active_developer_days"].astype("float64")
    gen = raw["generations_excl_agent_edit"].astype("float64")
    out["outputs_per_active_developer_day"] = gen / dev_days.where(dev_days > 0)
    out["requests_per_active_developer"] = raw["requests"].astype("float64") / devs
    out["accepted_output_ratio"] = raw["acceptances_excl_agent_edit"].astype("float64") / gen.where(gen > 0)
    out["ai_credits_used"] = raw["ai_credits_used"].astype("float64")
    for c in USAGE_MEASURES[:6]:  # the same figure added up in another order must rank the same
        out[c] = stats.stable(out[c])
    small = (out["active_developers"] > 0) & (out["active_developers"] < k)
    out["suppressed"] = small
    for c in ["members", *USAGE_MEASURES[:6]]:
        out.loc[small, c] = float("nan")
    return out.reset_index()


def window_developers(con: duckdb.DuckDBPyConnection, team: str, start: date, end: date) -> int:
    """Distinct developers active on Copilot while on the team, from `start` to `end` (inclusive)."""
    return int(con.execute("""
        SELECT count(DISTINCT u.user_id) FROM int_user_day_usage u
        JOIN (SELECT day, user_id FROM int_team_member_day WHERE team_slug = ?) m USING (day, user_id)
        WHERE u.active AND u.day BETWEEN ? AND ?
    """, [team, start, end]).fetchone()[0])


def copilot_pr_share(prs: pd.DataFrame, active_user_weeks: pd.DataFrame, weeks: list[date]) -> pd.Series:
    """Share of a team's pull requests opened each week by an author active on Copilot that week.

    prs: the team's pull requests (author_id, created_at); active_user_weeks: user_id, week_start
    of every week a user was active. NaN in weeks without pull requests.
    """
    index = pd.DatetimeIndex(pd.to_datetime(weeks), name="week_start")
    if prs.empty:
        return pd.Series(float("nan"), index=index)
    opened = prs[["author_id"]].assign(week_start=events.week_start(prs["created_at"]).to_numpy())
    active = active_user_weeks[["user_id", "week_start"]].drop_duplicates().assign(copilot=True)
    active["week_start"] = pd.to_datetime(active["week_start"])
    tagged = opened.merge(active, left_on=["author_id", "week_start"], right_on=["user_id", "week_start"], how="left")
    share = tagged["copilot"].notna().groupby(tagged["week_start"]).mean()
    return share.reindex(index)


def active_user_weeks(con: duckdb.DuckDBPyConnection, user_ids, weeks: list[date]) -> pd.DataFrame:
    """user_id, week_start of every week in the window each of `user_ids` was active on Copilot."""
    if not weeks:
        return pd.DataFrame(columns=["user_id", "week_start"])
    return con.execute("""
        SELECT DISTINCT user_id, CAST(date_trunc('week', day) AS DATE) AS week_start
        FROM int_user_day_usage
        WHERE active AND day BETWEEN ? AND ? AND user_id IN (SELECT unnest(?::BIGINT[]))
    """, [weeks[0], weeks[-1] + timedelta(days=6), [int(u) for u in set(user_ids) if pd.notna(u)]]).df()


def team_week_frame(week_usage: pd.DataFrame, delivery_events: events.DeliveryEvents, team: str,
                    weeks: list[date], k: int, active_weeks: pd.DataFrame) -> pd.DataFrame:
    """Usage and delivery of one team side by side, one row per week of the window."""
    use = team_week_usage(week_usage, team, weeks, k)
    prs = delivery_events.prs
    use["copilot_pr_share"] = copilot_pr_share(prs[prs["team_slug"] == team], active_weeks, weeks).to_numpy()
    use.loc[use["suppressed"].astype(bool), "copilot_pr_share"] = float("nan")
    deliv = metrics.team_week_metrics(delivery_events, team, weeks)
    return use.merge(deliv, on="week_start", how="left")
