"""High-burn patterns for readers: tables, team movement, summaries and charts built from `detect`'s flagged weeks.

Readers get patterns per team and pattern (weeks, developers, credits, the evidence as the team's medians), each
suppressed when fewer than k developers are behind it: a pattern is a process to coach, not a person to blame.
Per-user-week flags (`detail_records`) leave the library only through the audited detail path
(`patterns --detail --incident ID --reason TEXT`, or a `report --detail` run).
"""
from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd

from .. import cache, figures, formatting, privacy
from ..params import OrgParams
from ..period import Period
from . import features as features_mod
from .catalog import PATTERN_BY_NAME
from .detect import (PATTERN_NAMES, SMALL_TEAMS, active_developers_by_team, evidence_text, flagged_user_weeks,
                     flagged_weeks, label_user_weeks, period_weeks)


TABLE_COLUMNS = ["pattern", "team_slug", "user_weeks", "users", "credits", "evidence", "suppressed"]


def median_evidence(evidence_lists) -> list[dict]:
    """The evidence of several flagged weeks of one pattern as medians: {feature, value, peer_median} per feature
    (the median of the weeks' values and of their peer medians), in the order the features first appear."""
    values: dict[str, list] = {}
    for items in evidence_lists:
        for e in items or []:
            values.setdefault(e["feature"], []).append(e)
    out = []
    for feature, items in values.items():
        v = pd.Series([e["value"] for e in items], dtype="float64").median()
        p = pd.Series([e["peer_median"] for e in items], dtype="float64").median()
        out.append({"feature": feature, "value": None if pd.isna(v) else float(v),
                    "peer_median": None if pd.isna(p) else float(p)})
    return out


def pattern_table(flagged: pd.DataFrame, team_sizes: dict[str, int] | None = None, k: int = 5) -> pd.DataFrame:
    """Pattern x team: developer-weeks, distinct developers, AI credits and the evidence as medians.

    Teams with fewer than `k` active developers (`team_sizes`) are folded into one row per pattern
    named SMALL_TEAMS, so a pattern is never pinned on a team where it points at one of a handful
    of people. A row behind which fewer than `k` developers stand keeps its pattern and team, and its
    figures are blanked (NaN, evidence None) and `suppressed` set. Rows are ordered by credits, largest first.
    """
    if flagged.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    frame = flagged.copy()
    if team_sizes is not None:
        small = [team_sizes.get(t, 0) < k for t in frame["team_slug"]]
        frame.loc[small, "team_slug"] = SMALL_TEAMS
    if "evidence" not in frame:
        frame["evidence"] = [[] for _ in range(len(frame))]
    table = (frame.groupby(["pattern", "team_slug"], as_index=False)
             .agg(user_weeks=("week_start", "size"), users=("user", "nunique"), credits=("credits", "sum"),
                  evidence=("evidence", median_evidence)))
    table = table.sort_values(["credits", "pattern", "team_slug"], ascending=[False, True, True], ignore_index=True)
    table["suppressed"] = privacy.small_group(table["users"], k)
    for column in ("user_weeks", "users", "credits"):
        table[column] = table[column].astype("float64").mask(table["suppressed"])
    table["evidence"] = [None if s else e for s, e in zip(table["suppressed"], table["evidence"])]
    return table.sort_values(["suppressed"], kind="stable", ignore_index=True)[TABLE_COLUMNS]


# Keys the pseudonyms `org_pattern_table` counts distinct developers by; they never leave it (nor does any row of a
# person), and distinct logins give distinct pseudonyms under any key.
_COUNTING_KEY = b"org-pattern-table: distinct developers only"


@cache.memoised("patterns-org-table")
def org_pattern_table(con: duckdb.DuckDBPyConnection, params: OrgParams, period: Period, k: int) -> pd.DataFrame:
    """Every team's flagged weeks of the month as `pattern_table` gives them, teams under `k` active developers
    folded (`active_developers_by_team`): page 04's org table, the same for every team.

    Built once per period (the org-wide pass) and memoised: a team's page reads these few dozen rows rather than
    building the evidence of the whole org's flagged weeks (8,700 at 30,000 developers) and the month's active
    developers of every team again. The weeks are `detect`'s (same fit, same review weights).
    """
    first, last = period_weeks(period)
    current = flagged_weeks(flagged_user_weeks(con, params, first, last), {period.label}, None, _COUNTING_KEY,
                            params.patterns.review_min_weight)
    return pattern_table(current, active_developers_by_team(con, period), k)


MOVEMENT_COLUMNS = ["pattern", "user_weeks", "user_weeks_last_month", "credits", "credits_last_month", "developers",
                    "developers_last_month", "change"]


def team_movement(current: pd.DataFrame, previous: pd.DataFrame, team: str, k: int | None = None) -> pd.DataFrame:
    """A team's patterns this month against last month: developer-weeks, credits, developers, and the change.

    One row per pattern seen in either month, in PATTERNS order. With `k`, a month's weeks and credits of a
    pattern behind which 1 .. k-1 developers stand are blanked (NaN), and so is a change they would give away.
    """
    def totals(frame: pd.DataFrame) -> pd.DataFrame:
        mine = frame[frame["team_slug"] == team]
        users = mine["user"] if "user" in mine else pd.Series(range(len(mine)), index=mine.index)
        return mine.assign(user=users).groupby("pattern").agg(
            user_weeks=("week_start", "size"), credits=("credits", "sum"), developers=("user", "nunique"))

    now, before = totals(current), totals(previous)
    rows = []
    for name in PATTERN_NAMES:
        if name not in now.index and name not in before.index:
            continue
        weeks_now = int(now["user_weeks"].get(name, 0))
        weeks_before = int(before["user_weeks"].get(name, 0))
        row = {"pattern": PATTERN_BY_NAME[name].title, "user_weeks": float(weeks_now),
               "user_weeks_last_month": float(weeks_before), "credits": float(now["credits"].get(name, 0.0)),
               "credits_last_month": float(before["credits"].get(name, 0.0)),
               "developers": float(now["developers"].get(name, 0)),
               "developers_last_month": float(before["developers"].get(name, 0)),
               "change": "new" if not weeks_before else "gone" if not weeks_now
               else "up" if weeks_now > weeks_before else "down" if weeks_now < weeks_before else "same"}
        if k is not None:
            hidden_now = bool(privacy.small_group(row["developers"], k))
            hidden_before = bool(privacy.small_group(row["developers_last_month"], k))
            if hidden_now:
                row.update(user_weeks=float("nan"), credits=float("nan"), developers=float("nan"))
            if hidden_before:
                row.update(user_weeks_last_month=float("nan"), credits_last_month=float("nan"),
                           developers_last_month=float("nan"))
            if (hidden_now or hidden_before) and row["change"] in ("up", "down", "same"):
                row["change"] = "suppressed"
        rows.append(row)
    return pd.DataFrame(rows, columns=MOVEMENT_COLUMNS)


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

    Summed from the user-weeks the detector itself labelled for the period (`label_user_weeks`, memoised), so
    each figure is the detector's own: duplicate work above all, judged once against the whole lookback's PRs
    and not a second time against the month's (which gave other counts, and cost a second org-wide search).
    Built once per period and memoised: each team's report takes its rows from the same frame.
    """
    first, last = period_weeks(period)
    labelled = label_user_weeks(con, params, first, last)
    if labelled.empty:
        return pd.DataFrame()
    monday = period.start - timedelta(days=3)  # the first week whose Thursday is in the period
    _, last_monday = period_weeks(period, lookback_weeks=0)
    weeks = labelled[[monday <= w <= last_monday for w in labelled["week_start"]]]
    return pd.DataFrame() if weeks.empty else features_mod.team_week_features(weeks)


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


WEEK_FIGURES = {"developers": "active_developers", "accepted-output ratio": "accepted_output_ratio",
                "CLI requests per prompt": "cli_requests_per_prompt", "share of use off-window": "off_window_share",
                "PRs merged": "merged_prs", "PRs repeating other work": "merged_prs"}


def week_table_display(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """`team_week_table` as text: every figure through `figures.show`, weeks under k developers say so."""
    hidden = privacy.suppressed_label(k)
    out = pd.DataFrame({"week of": table["week of"]})
    for column, key in WEEK_FIGURES.items():
        out[column] = [hidden if pd.isna(d) else figures.show(key, v) for v, d in zip(table[column], table["developers"])]
    return out


def team_summary_markdown(team: str, period: Period, flagged: pd.DataFrame, credits_month: float, k: int) -> str:
    """The written summary of a team's high-burn month, built from the figures it quotes.

    When fewer than `k` developers are behind the flagged weeks, their count and credits are not
    quoted: they would describe a handful of people.
    """
    mine = flagged[flagged["team_slug"] == team]
    if mine.empty:
        return (f"**{team}, {period.label}.** No developer-week of the team matched a high-burn pattern this month. "
                "Heavy use that is accepted and merged is not a pattern: it is what the assistant is for.")
    names = ", ".join(sorted({PATTERN_BY_NAME[p].title.lower() for p in mine["pattern"]}))
    credits = float(mine["credits"].sum())
    weeks, people = len(mine), mine["user"].nunique()
    if privacy.small_group(people, k):
        return (f"**{team}, {period.label}.** Some weeks of fewer than {k} developers matched a pattern: "
                f"{names}. Their counts and credits are not shown, as they would describe a handful of people; "
                "the patterns and their coaching below are what the team can act on together.")
    share = (f" ({formatting.percent(credits / credits_month)} of the team's "
             f"{figures.show('ai_credits', credits_month)} AI credits this month)" if credits_month else "")
    return (f"**{team}, {period.label}.** {figures.show('flagged_weeks', weeks)} developer-week"
            f"{'s' if weeks != 1 else ''} of {figures.show('flagged_developers', people)} developers matched a "
            f"pattern: {names}. Those weeks used {figures.show('flagged_credits', credits)} AI credits{share}. "
            "Each is a prompt for a process change, not a verdict on a person.")


def movement_for_display(movement: pd.DataFrame, k: int) -> pd.DataFrame:
    """A `team_movement` table (with `k`) for people: every figure through `figures.show`, blanked cells say so."""
    def column(key, name, people):
        return [figures.show(key, v, people=1 if pd.isna(v) and p != 0 else None, k=k)
                for v, p in zip(movement[name], movement[people])]

    return pd.DataFrame({
        "pattern": movement["pattern"],
        "developer-weeks": column("flagged_weeks", "user_weeks", "developers"),
        "last month": column("flagged_weeks", "user_weeks_last_month", "developers_last_month"),
        "AI credits": column("flagged_credits", "credits", "developers"),
        "AI credits last month": column("flagged_credits", "credits_last_month", "developers_last_month"),
        "change": movement["change"],
    })


def movement_chart(movement: pd.DataFrame):
    """Bars of AI credits per pattern, this month (the team's colour) against last month (the comparison's);
    suppressed months are left out (`charts.NoChart` when nothing is left to draw)."""
    import altair as alt

    from .. import charts

    data = pd.concat([
        pd.DataFrame({"pattern": movement["pattern"], "month": "this month", "credits": movement["credits"]}),
        pd.DataFrame({"pattern": movement["pattern"], "month": "last month",
                      "credits": movement["credits_last_month"]}),
    ], ignore_index=True).dropna(subset=["credits"])
    if data.empty or not data["credits"].any():
        return charts.NoChart()
    months = [m for m in ("last month", "this month") if m in set(data["month"])]
    colours = {"last month": charts.ORG_COLOUR, "this month": charts.TEAM_COLOUR}
    return (alt.Chart(data, title="AI credits in flagged weeks, by pattern")
            .mark_bar()
            .encode(y=alt.Y("pattern:N", title=None, axis=alt.Axis(labelLimit=260)),
                    x=alt.X("credits:Q", title="AI credits", axis=alt.Axis(format=",.0f")),
                    yOffset=alt.YOffset("month:N", sort=months),
                    color=alt.Color("month:N", title=None, sort=months,
                                    scale=alt.Scale(domain=months, range=[colours[m] for m in months])),
                    tooltip=["pattern:N", "month:N", alt.Tooltip("credits:Q", title="AI credits", format=",.0f")])
            .properties(width=charts.FULL_WIDTH - 300, height=alt.Step(14)))


def flagged_for_display(flagged: pd.DataFrame) -> pd.DataFrame:
    """Flagged weeks as a table, for the audited detail path only: who (login in detail records, else pseudonym),
    week, pattern title, credits, evidence in words."""
    who = flagged["login"] if "login" in flagged else flagged["user"]
    return pd.DataFrame({
        "developer": who, "week of": [str(w) for w in flagged["week_start"]],
        "pattern": flagged["pattern_title"], "AI credits": [figures.show("ai_credits", c) for c in flagged["credits"]],
        "evidence (value, peer median)": [evidence_text(e) for e in flagged["evidence"]],
    })


def table_for_display(table: pd.DataFrame, k: int, team_column: bool = True) -> pd.DataFrame:
    """A `pattern_table` for people: pattern titles, plain column names, the evidence as team medians, and rows
    behind which fewer than `k` developers stand shown without their figures."""
    hidden = privacy.suppressed_label(k)
    rows = table.to_dict("records")
    out = pd.DataFrame({"pattern": [PATTERN_BY_NAME[r["pattern"]].title for r in rows]})
    if team_column:
        out["team"] = table["team_slug"].to_numpy()
    out["developer-weeks"] = [hidden if r["suppressed"] else figures.show("flagged_weeks", r["user_weeks"]) for r in rows]
    out["developers"] = [hidden if r["suppressed"] else figures.show("flagged_developers", r["users"]) for r in rows]
    out["AI credits"] = [hidden if r["suppressed"] else figures.show("flagged_credits", r["credits"]) for r in rows]
    out["evidence: team median (peer median)"] = [hidden if r["suppressed"] else evidence_text(r["evidence"] or [])
                                                   for r in rows]
    return out


def table_records(table: pd.DataFrame, k: int) -> list[dict]:
    """A `pattern_table` as JSON-ready dicts: figures at full precision, None where suppressed."""
    return [{"pattern": r["pattern"], "team_slug": r["team_slug"],
             "user_weeks": figures.json_value("flagged_weeks", r["user_weeks"], people=r["users"], k=k),
             "users": figures.json_value("flagged_developers", r["users"], people=r["users"], k=k),
             "credits": figures.json_value("flagged_credits", r["credits"], people=r["users"], k=k),
             "evidence": r["evidence"], "suppressed": bool(r["suppressed"])} for r in table.to_dict("records")]


def to_records(flagged: pd.DataFrame) -> list[dict]:
    """Flagged weeks as JSON-ready dicts (dates as ISO strings)."""
    records = flagged.to_dict(orient="records")
    for r in records:
        r["week_start"] = str(r["week_start"])
    return records


def with_logins(flagged: pd.DataFrame, con: duckdb.DuckDBPyConnection, key: bytes) -> pd.DataFrame:
    """The flagged weeks with a `login` column, for the audited detail path only (the caller records the access)."""
    logins = [r[0] for r in con.execute("SELECT DISTINCT user_login FROM user_day WHERE user_login IS NOT NULL").fetchall()]
    by_pseudonym = {privacy.pseudonym(login, key): login for login in logins}
    return flagged.assign(login=[by_pseudonym.get(u) for u in flagged["user"]])


def review_precision(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The org's confirmed precision per pattern and month from analysts' reviews (`review.confirmed_precision`)."""
    from . import review

    return review.confirmed_precision(review.reviews(con))


def precision_for_display(table: pd.DataFrame) -> pd.DataFrame:
    """`review_precision` for people: pattern titles, reviewed pattern-weeks, precision as a percentage."""
    return pd.DataFrame({
        "month": table["month"], "pattern": [PATTERN_BY_NAME[p].title for p in table["pattern"]],
        "confirmed": table["confirmed"], "dismissed": table["dismissed"],
        "confirmed precision": [formatting.percent(p) for p in table["precision"]],
    })


def precision_chart(table: pd.DataFrame):
    """Confirmed precision per pattern by month (an altair line chart)."""
    import altair as alt

    data = table.assign(pattern=[PATTERN_BY_NAME[p].title for p in table["pattern"]])
    return (alt.Chart(data, title="Confirmed precision of the flagged pattern-weeks analysts reviewed")
            .mark_line(point=True)
            .encode(x=alt.X("month:O", title=None), y=alt.Y("precision:Q", title="confirmed / reviewed",
                                                             axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
                    color=alt.Color("pattern:N", title=None, legend=alt.Legend(orient="bottom", columns=2)),
                    tooltip=["month:O", "pattern:N", "confirmed:Q", "dismissed:Q",
                             alt.Tooltip("precision:Q", format=".0%")])
            .properties(width=440, height=180))
