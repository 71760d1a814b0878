"""Per user-week (and team-week) features of the high-burn detector: usage, output, delivery, duplicates.

The warehouse views `int_user_week_usage`, `int_user_week_pull_requests` and `int_user_week_team`
hold the weekly sums; this module adds what needs parameters (delivery windows, on-call and
incident duty, when an open PR counts as unmerged) or content comparison (duplicate work, in
`duplicates`), and derives the ratios the detector compares, against the segment's peers and
against the developer's own usual week. Weeks are ISO weeks starting on Monday; only weeks whose
seven days all lie inside the data count.
"""
from __future__ import annotations

import warnings
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from ..params import OrgParams
from . import duty as duty_mod
from .counts import rate_z, same_user_nearby
from .duplicates import WINDOW_DAYS, near_duplicate_prs

# The features the detector scores, in the order evidence lists them. Volumes and ratios to the usual
# week are heavy-tailed and compared on a log scale (LOG_FEATURES); shares are compared as they are.
FEATURES = (
    "activity", "interactions", "interactions_vs_usual", "generations", "acceptances", "accepted_output_ratio",
    "acceptance_vs_usual", "acceptance_z", "loc_suggested", "loc_added", "loc_added_vs_usual", "loc_added_per_suggested",
    "ai_credits_used", "credits_per_accepted_output", "cli_requests", "cli_requests_per_prompt",
    "cli_tokens_per_accepted_output", "off_window_share", "off_window_activity", "off_window_days",
    "off_window_day_ratio", "prs_opened_unmerged", "unmerged_share", "unmerged_z", "merged_prs_same_week", "merged_prs_next_week", "duplicate_prs",
)
LOG_FEATURES = (
    "activity", "off_window_activity", "interactions", "interactions_vs_usual", "generations", "acceptances",
    "acceptance_vs_usual", "loc_suggested", "loc_added", "loc_added_vs_usual", "loc_added_per_suggested",
    "ai_credits_used", "credits_per_accepted_output", "cli_requests", "cli_requests_per_prompt",
    "cli_tokens_per_accepted_output",
)
USUAL = {"interactions_vs_usual": "interactions", "acceptance_vs_usual": "accepted_output_ratio",
         "loc_added_vs_usual": "loc_added"}  # ratio to the developer's usual week -> the measure
# Volumes rise and fall with the whole team (a release crunch, a holiday week, adoption growing over
# months): their ratio to the usual week is taken against the team's typical ratio that week.
TEAM_ADJUSTED = ("interactions_vs_usual", "loc_added_vs_usual")
USUAL_WEEKS = 4  # the usual week is the median of the developer's other weeks at most this many weeks away


def full_weeks(first_day: date, last_day: date) -> list[date]:
    """Mondays of the ISO weeks whose seven days all fall between `first_day` and `last_day`."""
    monday = first_day + timedelta(days=(7 - first_day.weekday()) % 7)
    weeks = []
    while monday + timedelta(days=6) <= last_day:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def load_pull_requests(con: duckdb.DuckDBPyConnection, lo: date, hi: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pull requests opened from `lo` to `hi`, their changed files) as `duplicates` compares them."""
    args = [lo, hi]
    prs = con.execute("""
        SELECT repo, number, author_login, author_type, title, labels, created_at FROM pull_request
        WHERE author_login IS NOT NULL AND created_at BETWEEN ? AND ?
    """, args).df()
    files = con.execute("""
        SELECT f.repo, f.number, f.filename, f.patch_sketch FROM pull_request_file f
        JOIN pull_request p USING (repo, number)
        WHERE p.author_login IS NOT NULL AND p.created_at BETWEEN ? AND ?
    """, args).df()
    return prs, files


def load_user_weeks(con: duckdb.DuckDBPyConnection, params: OrgParams,
                    first_week: date | None = None, last_week: date | None = None) -> pd.DataFrame:
    """Weekly sums per user from the warehouse, for the full weeks between two Mondays (inclusive).

    Returns one row per user-week with activity: user_id, user_login, week_start (date), team_slug,
    segment, the sums of `int_user_week_usage`, off_window_activity and off_window_days (prompts,
    outputs and CLI prompts on off-window days that were not on-call or incident duty, and how many
    such days had any), duty_days, prs_opened, prs_opened_unmerged (closed without merging, or still
    open `unmerged_after_days` after the week), prs_opened_settled (those whose fate is known: all but
    the ones still open and younger than that), merged_prs_same_week, merged_prs_next_week and
    duplicate_prs (PRs opened that week that duplicate work in another repo). Empty if the data
    holds no full week.
    """
    first_day, last_day = con.execute("SELECT min(day), max(day) FROM user_day").fetchone()
    if first_day is None:
        return pd.DataFrame()
    weeks = [w for w in full_weeks(first_day, last_day)
             if (first_week is None or w >= first_week) and (last_week is None or w <= last_week)]
    if not weeks:
        return pd.DataFrame()
    lo, hi = weeks[0], weeks[-1] + timedelta(days=6)
    off_days = params.delivery_windows.off_window_days(lo, hi)
    duty = duty_mod.duty_days(con, params, lo, hi)[["user_login", "day"]]
    con.register("duty_day", duty)
    try:
        frame = con.execute("""
            WITH off AS (
                SELECT u.user_id, date_trunc('week', u.day)::DATE AS week_start,
                       sum(u.interactions + u.generations + u.cli_prompts) AS off_window_activity,
                       count(*) FILTER (WHERE u.interactions + u.generations + u.cli_prompts > 0) AS off_window_days
                FROM int_user_day_usage u
                LEFT JOIN duty_day y ON y.user_login = lower(u.user_login) AND y.day = u.day
                WHERE u.day IN (SELECT unnest(?::DATE[])) AND u.day BETWEEN ? AND ? AND y.day IS NULL
                GROUP BY ALL
            ),
            duty_week AS (
                SELECT user_login, date_trunc('week', day)::DATE AS week_start, count(*) AS duty_days
                FROM duty_day GROUP BY ALL
            )
            SELECT w.*, coalesce(o.off_window_activity, 0) AS off_window_activity,
                   coalesce(o.off_window_days, 0) AS off_window_days, coalesce(y.duty_days, 0) AS duty_days,
                   t.team_slug, coalesce(p.prs_opened, 0) AS prs_opened,
                   coalesce(p.prs_opened_closed_unmerged, 0) AS prs_opened_closed_unmerged,
                   coalesce(p.prs_opened_open, 0) AS prs_opened_open,
                   coalesce(p.prs_merged, 0) AS merged_prs_same_week,
                   coalesce(n.prs_merged, 0) AS merged_prs_next_week
            FROM int_user_week_usage w
            LEFT JOIN off o USING (user_id, week_start)
            LEFT JOIN duty_week y ON y.user_login = lower(w.user_login) AND y.week_start = w.week_start
            LEFT JOIN int_user_week_team t USING (user_id, week_start)
            LEFT JOIN int_user_week_pull_requests p ON p.author_login = w.user_login AND p.week_start = w.week_start
            LEFT JOIN int_user_week_pull_requests n ON n.author_login = w.user_login
                                                   AND n.week_start = w.week_start + INTERVAL 7 DAY
            WHERE w.week_start BETWEEN ? AND ?
            ORDER BY w.week_start, w.user_id
        """, [off_days, lo, hi, lo, weeks[-1]]).df()
    finally:
        con.unregister("duty_day")
    frame["week_start"] = pd.to_datetime(frame["week_start"]).dt.date
    # An open PR is unmerged once it has waited `unmerged_after_days` past its week; younger ones may still merge.
    settled = [w + timedelta(days=7 + params.patterns.unmerged_after_days) <= last_day for w in frame["week_start"]]
    frame["prs_opened_unmerged"] = frame["prs_opened_closed_unmerged"] + np.where(settled, frame["prs_opened_open"], 0)
    # The PRs whose fate is known: merged, closed, or open long enough to count as unmerged.
    frame["prs_opened_settled"] = frame["prs_opened"] - np.where(settled, 0, frame["prs_opened_open"])
    prs, files = load_pull_requests(con, lo - timedelta(days=WINDOW_DAYS), hi + timedelta(days=1 + WINDOW_DAYS))
    dups = near_duplicate_prs(prs, files, params.patterns)
    counts = dups.groupby(["author_login", "week_start"]).size().rename("duplicate_prs").reset_index()
    frame = frame.merge(counts, how="left", left_on=["user_login", "week_start"],
                        right_on=["author_login", "week_start"]).drop(columns="author_login")
    frame["duplicate_prs"] = frame["duplicate_prs"].fillna(0).astype("int64")
    frame["team_slug"] = frame["team_slug"].fillna("(no team)")
    frame["segment"] = [params.segment_of(t) for t in frame["team_slug"]]
    return frame


def usual(values: pd.Series, users: pd.Series, weeks: pd.Series, span: int = USUAL_WEEKS) -> pd.Series:
    """Each row's median of the same user's other weeks at most `span` weeks away; NaN when there are none.

    A week is compared with the developer's usual week without itself in it, so one extreme week
    cannot move its own yardstick, and with nearby weeks only, so a trend over months (adoption
    growing) does not pass for a change of habit.
    """
    near = same_user_nearby(values, users, weeks, span)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row with no near week: NaN, as meant
        return pd.Series(np.nanmedian(near, axis=1), index=values.index, dtype="float64")


def team_adjusted(ratio: pd.Series, teams: pd.Series, weeks: pd.Series, min_users: int = 3) -> pd.Series:
    """`ratio` over the median ratio of the same team that week (teams of `min_users` or more that week)."""
    typical = ratio.groupby([teams, weeks]).transform("median")
    size = ratio.groupby([teams, weeks]).transform("count")
    return ratio / typical.where((size >= min_users) & (typical > 0), 1.0)


def user_week_features(weeks: pd.DataFrame) -> pd.DataFrame:
    """Derive the detector's features from weekly sums (see `load_user_weeks`).

    Returns a copy with the FEATURES columns added (floats). Ratios use the counts that make them
    fair: the accepted-output ratio leaves out agent edits (they never carry acceptances), costs
    per accepted output divide by at least one acceptance, CLI ratios are NaN in weeks without CLI
    use, the unmerged share (PRs opened that week and unmerged) is NaN without PRs, activity is the
    week's interactions + generations + CLI prompts, the off-window share is the part of that
    activity on off-window days that were not duty. The `*_vs_usual` features are the week's
    measure over the developer's usual (median of their other weeks in the frame; NaN when that is
    zero or unknown). acceptance_z is the week's accepted outputs against the rate expected of the
    developer, in standard errors (`counts.rate_z`; per `segment` when the frame has one).
    weeks_active counts the developer's weeks in the frame.
    """
    out = weeks.copy()
    groups = out["segment"] if "segment" in out else pd.Series("all", index=out.index)  # peers of counting evidence
    for column in ("off_window_days", "duty_days"):
        if column not in out:
            out[column] = 0
    acc = out["acceptances_excl_agent_edit"].astype(float)
    gen = out["generations_excl_agent_edit"].astype(float)
    out["acceptances"] = acc
    out["accepted_output_ratio"] = np.where(gen > 0, acc / gen.where(gen > 0, 1.0), np.nan)
    out["loc_added_per_suggested"] = out["loc_added"] / out["loc_suggested"].clip(lower=1)
    per_accepted = acc.clip(lower=1)
    out["credits_per_accepted_output"] = out["ai_credits_used"].fillna(0) / per_accepted
    # CLI ratios are undefined in weeks without CLI use (NaN): peers are compared on CLI weeks only.
    cli_week = out["cli_prompts"] > 0
    out["cli_tokens_per_accepted_output"] = np.where(cli_week, out["cli_tokens"] / per_accepted, np.nan)
    out["cli_requests_per_prompt"] = np.where(cli_week, out["cli_requests"] / out["cli_prompts"].clip(lower=1), np.nan)
    opened = out["prs_opened"].astype(float)
    # Of the PRs whose fate is known (all of them when the frame does not say): a PR opened near the end of
    # the data that is still open may yet merge, and counting it as merged would hide the week's share.
    known = out["prs_opened_settled"].astype(float) if "prs_opened_settled" in out else opened
    out["unmerged_share"] = np.where(known > 0, out["prs_opened_unmerged"] / known.where(known > 0, 1.0), np.nan)
    # ... and as counting evidence: unmerged PRs against the rate expected of the developer (`counts.rate_z`).
    out["unmerged_z"] = rate_z(out["prs_opened_unmerged"], known, out["user_login"], out["week_start"], groups,
                               USUAL_WEEKS)
    # Activity: what the developer asked for or was offered, IDE and CLI alike. CLI prompts, not CLI
    # requests: requests include the agent's automated follow-ups, which would make an SRE's
    # weekend runbook automation look like a weekend of work.
    out["activity"] = (out["interactions"] + out["generations"] + out["cli_prompts"]).astype(float)
    some = out["activity"] > 0
    out["off_window_share"] = np.where(some, out["off_window_activity"] / out["activity"].where(some, 1.0), 0.0)
    # How busy the week's off-window days were against its working days, per active day: 1 is a weekend
    # worked like a weekday, above 1 a week that leans on its off-window days. Without day counts
    # (`active_days`), five working days are assumed.
    off_days = out["off_window_days"].astype(float)
    active = out["active_days"].astype(float) if "active_days" in out else off_days + 5
    on_mean = (out["activity"] - out["off_window_activity"]).clip(lower=0) / (active - off_days).clip(lower=1)
    out["off_window_day_ratio"] = np.where(off_days > 0, out["off_window_activity"] / off_days.clip(lower=1)
                                           / on_mean.clip(lower=1.0), 0.0)
    for ratio, measure in USUAL.items():
        base = usual(out[measure].astype(float), out["user_login"], out["week_start"])
        out[ratio] = out[measure].astype(float) / base.where(base > 0)
        if ratio in TEAM_ADJUSTED:
            out[ratio] = team_adjusted(out[ratio], out["team_slug"], out["week_start"])
    # The week's accepted outputs as counting evidence: against the developer's own rate nearby (shrunk to
    # the segment's other developers), in standard errors (`counts.rate_z`); negative is fewer accepted.
    out["acceptance_z"] = rate_z(acc, gen, out["user_login"], out["week_start"], groups, USUAL_WEEKS)
    for column in FEATURES:
        out[column] = out[column].astype("float64")
    # How many weeks of the frame the developer was active: the detector judges habits, not first days.
    out["weeks_active"] = out.groupby("user_login")["week_start"].transform("size").astype("int64")
    return out


def team_week_features(features: pd.DataFrame) -> pd.DataFrame:
    """Team-week sums and ratios from user-week features: one row per team_slug and week_start.

    Columns: team_slug, segment, week_start, users, the summed volumes, and the ratios recomputed
    from the sums (never averaged over users).
    """
    sums = ["interactions", "generations", "generations_excl_agent_edit", "acceptances_excl_agent_edit",
            "loc_suggested", "loc_added", "ai_credits_used", "cli_requests", "cli_prompts", "cli_tokens",
            "off_window_activity", "prs_opened", "prs_opened_unmerged", "merged_prs_same_week",
            "merged_prs_next_week", "duplicate_prs"]
    grouped = features.groupby(["team_slug", "segment", "week_start"], as_index=False)
    team = grouped[sums].sum()
    team.insert(3, "users", grouped.size()["size"].to_numpy())
    gen = team["generations_excl_agent_edit"]
    team["accepted_output_ratio"] = team["acceptances_excl_agent_edit"] / gen.where(gen > 0)
    team["credits_per_accepted_output"] = team["ai_credits_used"] / team["acceptances_excl_agent_edit"].clip(lower=1)
    team["cli_requests_per_prompt"] = team["cli_requests"] / team["cli_prompts"].where(team["cli_prompts"] > 0)
    activity = team["interactions"] + team["generations"] + team["cli_prompts"]
    team["off_window_share"] = team["off_window_activity"] / activity.where(activity > 0)
    return team
