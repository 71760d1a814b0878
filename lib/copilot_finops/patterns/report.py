"""High-burn patterns for readers: tables, team movement, summaries and charts built from `detect`'s flagged weeks."""
from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd

from .. import cache
from ..params import OrgParams
from ..period import Period
from . import features as features_mod
from .catalog import PATTERN_BY_NAME
from .detect import PATTERN_NAMES, SMALL_TEAMS, evidence_text, period_weeks


def pattern_table(flagged: pd.DataFrame, team_sizes: dict[str, int] | None = None, k: int = 5) -> pd.DataFrame:
    """Pattern x team: user-weeks, distinct users and AI credits of the flagged weeks.

    Teams with fewer than `k` active developers (`team_sizes`) are folded into one row per pattern
    named SMALL_TEAMS, so a pattern is never pinned on a team where it points at one of a handful
    of people. Rows are ordered by credits, largest first.
    """
    columns = ["pattern", "team_slug", "user_weeks", "users", "credits"]
    if flagged.empty:
        return pd.DataFrame(columns=columns)
    frame = flagged.copy()
    if team_sizes is not None:
        small = [team_sizes.get(t, 0) < k for t in frame["team_slug"]]
        frame.loc[small, "team_slug"] = SMALL_TEAMS
    table = (frame.groupby(["pattern", "team_slug"], as_index=False)
             .agg(user_weeks=("week_start", "size"), users=("user", "nunique"), credits=("credits", "sum")))
    table["credits"] = table["credits"].round(1)
    return table.sort_values(["credits", "pattern", "team_slug"], ascending=[False, True, True],
                             ignore_index=True)[columns]


def team_movement(current: pd.DataFrame, previous: pd.DataFrame, team: str) -> pd.DataFrame:
    """A team's patterns this month against last month: user-weeks and credits, and the change.

    One row per pattern seen in either month, in PATTERNS order.
    """
    def totals(frame: pd.DataFrame) -> pd.DataFrame:
        mine = frame[frame["team_slug"] == team]
        return mine.groupby("pattern").agg(user_weeks=("week_start", "size"), credits=("credits", "sum"))

    now, before = totals(current), totals(previous)
    rows = []
    for name in PATTERN_NAMES:
        if name not in now.index and name not in before.index:
            continue
        weeks_now = int(now["user_weeks"].get(name, 0))
        weeks_before = int(before["user_weeks"].get(name, 0))
        rows.append({"pattern": PATTERN_BY_NAME[name].title, "user_weeks": weeks_now,
                     "user_weeks_last_month": weeks_before, "credits": round(float(now["credits"].get(name, 0.0)), 1),
                     "credits_last_month": round(float(before["credits"].get(name, 0.0)), 1),
                     "change": "new" if not weeks_before else "gone" if not weeks_now
                     else "up" if weeks_now > weeks_before else "down" if weeks_now < weeks_before else "same"})
    return pd.DataFrame(rows, columns=["pattern", "user_weeks", "user_weeks_last_month", "credits",
                                       "credits_last_month", "change"])


def team_credits(con: duckdb.DuckDBPyConnection, team: str, period: Period) -> float:
    """AI credits the team used in the month (per-day membership), to put the flagged weeks' credits in proportion."""
    row = con.execute("""
        SELECT coalesce(sum(u.ai_credits_used), 0) FROM int_user_day_usage u
        JOIN (SELECT day, user_id FROM int_team_member_day WHERE team_slug = ?) m USING (day, user_id)
        WHERE u.day BETWEEN ? AND ?
    """, [team, period.start, period.end]).fetchone()
    return float(row[0])


@cache.memoised("org-team-weeks")
def org_team_weeks(con: duckdb.DuckDBPyConnection, params: OrgParams, period: Period) -> pd.DataFrame:
    """Every team's weeks of the period on the detector's team-week measures (`team_week_features`).

    Duplicate work is judged against every author's PRs, so the frame is built org-wide once and
    memoised: each team's report of the period takes its rows from the same frame.
    """
    _, last = period_weeks(period, lookback_weeks=0)
    weeks = features_mod.load_user_weeks(con, params, period.start - timedelta(days=3), last)
    return pd.DataFrame() if weeks.empty else features_mod.team_week_features(features_mod.user_week_features(weeks))


def team_week_table(con: duckdb.DuckDBPyConnection, params: OrgParams, team: str, period: Period,
                    k: int) -> pd.DataFrame:
    """The team's weeks in the period on the detector's team-week measures, for context.

    One row per week (weeks count in the month of their Thursday): developers active, accepted-output
    ratio, CLI requests per prompt, share of use outside delivery windows, PRs merged and PRs
    repeating another author's work. Weeks with fewer than `k` active developers are left blank.
    """
    columns = ["week of", "developers", "accepted-output ratio", "CLI requests per prompt",
               "share of use off-window", "PRs merged", "PRs repeating other work"]
    teams = org_team_weeks(con, params, period)
    if teams.empty:
        return pd.DataFrame(columns=columns)
    mine = teams[teams["team_slug"] == team]
    table = pd.DataFrame({
        "week of": [str(w) for w in mine["week_start"]], "developers": mine["users"].to_numpy(),
        "accepted-output ratio": mine["accepted_output_ratio"].round(3).to_numpy(),
        "CLI requests per prompt": mine["cli_requests_per_prompt"].round(1).to_numpy(),
        "share of use off-window": mine["off_window_share"].round(3).to_numpy(),
        "PRs merged": mine["merged_prs_same_week"].astype("int64").to_numpy(),
        "PRs repeating other work": mine["duplicate_prs"].astype("int64").to_numpy(),
    }, columns=columns)
    small = (table["developers"] < k).to_numpy()
    for column in columns[1:]:
        # object columns keep counts whole and let suppressed cells be NaN ("suppressed" in reports)
        table[column] = pd.Series([float("nan") if hide else value for hide, value in zip(small, table[column])],
                                  dtype=object, index=table.index)
    return table


def team_summary_markdown(team: str, period: Period, flagged: pd.DataFrame, credits_month: float, k: int) -> str:
    """The written summary of a team's high-burn month, built from the figures it quotes.

    When fewer than `k` developers are behind the flagged weeks, their count and credits are not
    quoted: they would describe a handful of people.
    """
    mine = flagged[flagged["team_slug"] == team]
    if mine.empty:
        return (f"**{team}, {period.label}.** No user-week of the team matched a high-burn pattern this month. "
                "Heavy use that is accepted and merged is not a pattern: it is what the assistant is for.")
    names = ", ".join(sorted({PATTERN_BY_NAME[p].title.lower() for p in mine["pattern"]}))
    credits = float(mine["credits"].sum())
    share = (f" ({credits / credits_month:.0%} of the team's {credits_month:,.0f} AI credits this month)"
             if credits_month else "")
    weeks, people = len(mine), mine["user"].nunique()
    if people < k:
        return (f"**{team}, {period.label}.** Some user-weeks of fewer than {k} developers matched a pattern: "
                f"{names}. Their counts and credits are not shown, as they would describe a handful of people; "
                "the patterns and their coaching below are what the team can act on together.")
    return (f"**{team}, {period.label}.** {weeks} user-week{'s' if weeks != 1 else ''} of "
            f"{people} developer{'s' if people != 1 else ''} matched a pattern: {names}. "
            f"Those weeks used {credits:,.0f} AI credits{share}. Each is a prompt for a process change, "
            "not a verdict on a person.")


def movement_for_display(movement: pd.DataFrame) -> pd.DataFrame:
    """A `team_movement` table for people: plain column names, whole credits."""
    return pd.DataFrame({
        "pattern": movement["pattern"], "user-weeks": movement["user_weeks"],
        "last month": movement["user_weeks_last_month"],
        "AI credits": [f"{c:,.0f}" for c in movement["credits"]],
        "AI credits last month": [f"{c:,.0f}" for c in movement["credits_last_month"]],
        "change": movement["change"],
    })


def movement_chart(movement: pd.DataFrame):
    """Bars of AI credits per pattern, this month against last month (an altair chart)."""
    import altair as alt

    data = pd.concat([
        pd.DataFrame({"pattern": movement["pattern"], "month": "this month", "credits": movement["credits"]}),
        pd.DataFrame({"pattern": movement["pattern"], "month": "last month",
                      "credits": movement["credits_last_month"]}),
    ], ignore_index=True)
    return (alt.Chart(data, title="AI credits in flagged weeks, by pattern")
            .mark_bar()
            .encode(y=alt.Y("pattern:N", title=None), x=alt.X("credits:Q", title="AI credits"),
                    yOffset=alt.YOffset("month:N", sort=["last month", "this month"]),
                    color=alt.Color("month:N", title=None, sort=["last month", "this month"],
                                    scale=alt.Scale(range=["#8c959f", "#1f6feb"]), legend=alt.Legend(orient="top")),
                    tooltip=["pattern:N", "month:N", alt.Tooltip("credits:Q", format=",.0f")])
            .properties(width=440, height=alt.Step(14)))


def flagged_for_display(flagged: pd.DataFrame) -> pd.DataFrame:
    """Flagged weeks as a table for people: pseudonym, week, pattern title, credits, evidence in words."""
    return pd.DataFrame({
        "user": flagged["user"], "week of": [str(w) for w in flagged["week_start"]],
        "pattern": flagged["pattern_title"], "AI credits": [f"{c:,.0f}" for c in flagged["credits"]],
        "evidence (value, peer median)": [evidence_text(e) for e in flagged["evidence"]],
    })


def table_for_display(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """A `pattern_table` for people: pattern titles, plain column names, and rows over fewer than `k`
    developers shown without their figures."""
    small = table["users"] < k
    hidden = f"fewer than {k}"
    return pd.DataFrame({
        "pattern": [PATTERN_BY_NAME[p].title for p in table["pattern"]], "team": table["team_slug"],
        "user-weeks": [hidden if s else str(n) for s, n in zip(small, table["user_weeks"])],
        "developers": [hidden if s else str(n) for s, n in zip(small, table["users"])],
        "AI credits": ["suppressed" if s else f"{c:,.0f}" for s, c in zip(small, table["credits"])],
    })


def to_records(flagged: pd.DataFrame) -> list[dict]:
    """Flagged weeks as JSON-ready dicts (dates as ISO strings)."""
    records = flagged.to_dict(orient="records")
    for r in records:
        r["week_start"] = str(r["week_start"])
    return records
