"""Team usage figures for a period: what the team used, by day, feature and model, against the org.

Every function takes an open warehouse connection and returns plain data (frames or dicts);
notebooks only display them. Figures over fewer than k users are suppressed here, once.
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from . import figures, formatting, privacy
from .errors import UserError
from .period import Period

SUM_COLUMNS = (
    "interactions", "prompts", "requests", "generations", "acceptances", "generations_excl_agent_edit", "acceptances_excl_agent_edit",
    "loc_suggested", "loc_added", "cli_sessions", "cli_requests", "cli_prompts", "cli_prompt_tokens",
    "cli_output_tokens", "ai_credits_used",
)


def teams_in_warehouse(con: duckdb.DuckDBPyConnection, period: Period | None = None) -> list[str]:
    """Team slugs with members in the period (or ever), from the reports and the rosters."""
    if period is None:
        rows = con.execute("SELECT DISTINCT team_slug FROM int_team_member_day ORDER BY 1").fetchall()
    else:
        rows = con.execute("""SELECT DISTINCT team_slug FROM int_team_member_day
                              WHERE day BETWEEN ? AND ? ORDER BY 1""", [period.start, period.end]).fetchall()
    return [r[0] for r in rows]


def select_teams(con: duckdb.DuckDBPyConnection, period: Period, teams_arg: str | None, warehouse: str) -> list[str]:
    """The teams a command works on: those named in `teams_arg` (comma-separated; checked against the
    warehouse), or every team with members in the period. UserError when the month has no team or a
    named team has none there, with what the warehouse does hold."""
    available = teams_in_warehouse(con, period)
    if not available:
        first, last = data_days(con)
        raise UserError(f"--period {period.label}: no team has members in that month; the warehouse "
                        f"{warehouse} holds {first} to {last}")
    if teams_arg is None:
        return available
    teams = list(dict.fromkeys(t.strip() for t in teams_arg.split(",") if t.strip()))
    if not teams:
        raise UserError(f"--teams {teams_arg!r} names no team: give team slugs separated by commas "
                        f"(e.g. --teams {','.join(available[:2])}), or leave --teams out for every team")
    unknown = [t for t in teams if t not in available]
    if unknown:
        raise UserError(f"--teams: {', '.join(unknown)} not in the warehouse for {period.label}; "
                        f"teams: {', '.join(available)}")
    return teams


def team_size(con: duckdb.DuckDBPyConnection, team: str, period: Period) -> tuple[int, int]:
    """(members, active developers) of a team in the period, per-day membership."""
    row = con.execute("""
        SELECT count(DISTINCT m.user_id), count(DISTINCT m.user_id) FILTER (WHERE u.active)
        FROM int_team_member_day m LEFT JOIN int_user_day_usage u USING (day, user_id)
        WHERE m.team_slug = ? AND m.day BETWEEN ? AND ?""", [team, period.start, period.end]).fetchone()
    return int(row[0]), int(row[1])


def team_sizes(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, tuple[int, int]]:
    """{team: (members, active developers)} of every team with members in the period (as `team_size`)."""
    rows = con.execute("""
        SELECT m.team_slug, count(DISTINCT m.user_id), count(DISTINCT m.user_id) FILTER (WHERE u.active)
        FROM int_team_member_day m LEFT JOIN int_user_day_usage u USING (day, user_id)
        WHERE m.day BETWEEN ? AND ? GROUP BY 1""", [period.start, period.end]).fetchall()
    return {team: (int(members), int(active)) for team, members, active in rows}


def small_teams(sizes: dict[str, tuple[int, int]], k: int) -> set[str]:
    """Teams whose figures are not shown: 1 .. k-1 members or active developers (the rule of every team page)."""
    return {team for team, (members, active) in sizes.items()
            if privacy.small_group(members, k) or privacy.small_group(active, k)}


def data_days(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    return tuple(con.execute("SELECT min(day), max(day) FROM user_day").fetchone())


def team_daily(con: duckdb.DuckDBPyConnection, team: str, period: Period, k: int) -> pd.DataFrame:
    """Team usage per day of the period, every day present (zeros on idle days).

    Columns: day, active_users, cli_users, the SUM_COLUMNS, suppressed (bool). Days with fewer than
    `k` active users have their figures blanked (NaN) and `suppressed` set.
    """
    frame = con.execute(f"""
        WITH days AS (SELECT unnest(generate_series(?::DATE, ?::DATE, INTERVAL 1 DAY))::DATE AS day)
        SELECT d.day, coalesce(t.active_users, 0) AS active_users, coalesce(t.cli_users, 0) AS cli_users,
               {', '.join(f'coalesce(t.{c}, 0) AS {c}' for c in SUM_COLUMNS)}
        FROM days d LEFT JOIN mart_team_day_usage t ON t.day = d.day AND t.team_slug = ?
        ORDER BY d.day
    """, [period.start, period.end, team]).df()
    frame = suppress_small_groups(frame, "active_users", k, list(SUM_COLUMNS) + ["cli_users"])
    return _suppress_small_cli(frame, "cli_users", k)


CLI_COLUMNS = ("cli_sessions", "cli_requests", "cli_prompts", "cli_prompt_tokens", "cli_output_tokens")


def _suppress_small_cli(frame: pd.DataFrame, users_column: str, k: int) -> pd.DataFrame:
    """CLI figures describe the CLI users only: blank them where those are fewer than k."""
    small = privacy.small_group(frame[users_column], k)
    for c in CLI_COLUMNS + ("requests",):  # requests minus prompts would be the few CLI users' follow-ups
        frame[c] = frame[c].astype("float64")
        frame.loc[small, c] = float("nan")
    return frame


def org_daily(con: duckdb.DuckDBPyConnection, period: Period, k: int) -> pd.DataFrame:
    """Org usage per day of the period; quiet days with fewer than `k` active users are suppressed too."""
    frame = con.execute(f"""
        WITH days AS (SELECT unnest(generate_series(?::DATE, ?::DATE, INTERVAL 1 DAY))::DATE AS day)
        SELECT d.day, coalesce(o.active_users, 0) AS active_users, coalesce(o.cli_users, 0) AS cli_users,
               {', '.join(f'coalesce(o.{c}, 0) AS {c}' for c in SUM_COLUMNS)}
        FROM days d LEFT JOIN mart_org_day_usage o USING (day) ORDER BY d.day
    """, [period.start, period.end]).df()
    frame = suppress_small_groups(frame, "active_users", k, list(SUM_COLUMNS) + ["cli_users"])
    return _suppress_small_cli(frame, "cli_users", k)


def suppress_small_groups(frame: pd.DataFrame, users_column: str, k: int, columns: list[str]) -> pd.DataFrame:
    """Blank the figures of rows that describe fewer than `k` users (0 users is not a group: kept as 0)."""
    return privacy.suppress(frame, users_column, k, columns)


def _period_totals(con, where: str, args: list, period: Period) -> dict:
    row = con.execute(f"""
        SELECT count(DISTINCT u.user_id) FILTER (WHERE u.active) AS active_developers,
               count(DISTINCT u.user_id) FILTER (WHERE u.used_cli) AS cli_developers,
               {', '.join(f'coalesce(sum(u.{c}), 0) AS {c}' for c in SUM_COLUMNS)},
               count(DISTINCT u.day) FILTER (WHERE u.active) AS active_days
        FROM int_user_day_usage u {where} AND u.day BETWEEN ? AND ?
    """, args + [period.start, period.end]).fetchone()
    names = ["active_developers", "cli_developers", *SUM_COLUMNS, "active_days"]
    totals = dict(zip(names, (float(x) if x is not None else 0.0 for x in row)))
    devs = totals["active_developers"]
    gen = totals["generations_excl_agent_edit"]
    totals["prompts_per_active_developer"] = totals["prompts"] / devs if devs else None
    totals["requests_per_active_developer"] = totals["requests"] / devs if devs else None
    totals["accepted_output_ratio"] = totals["acceptances_excl_agent_edit"] / gen if gen else None
    totals["credits_per_active_developer"] = totals["ai_credits_used"] / devs if devs else None
    totals["cli_requests_per_prompt"] = totals["cli_requests"] / totals["cli_prompts"] if totals["cli_prompts"] else None
    return totals


def team_period_summary(con: duckdb.DuckDBPyConnection, team: str, period: Period, k: int) -> dict:
    """Headline figures of a team for a period, with the org's for comparison.

    A user on the team on any day of the period counts (per-day membership); activity counts only
    on days the user was on the team. `suppressed` is True when fewer than `k` developers were active.
    """
    team_where = ("JOIN (SELECT day, user_id FROM int_team_member_day WHERE team_slug = ?) m "
                  "USING (day, user_id) WHERE true")
    totals = _period_totals(con, team_where, [team], period)
    org = _period_totals(con, "WHERE true", [], period)
    members = con.execute("""SELECT count(DISTINCT user_id) FROM int_team_member_day
                             WHERE team_slug = ? AND day BETWEEN ? AND ?""", [team, period.start, period.end]).fetchone()[0]
    suppressed = bool(privacy.small_group(totals["active_developers"], k))
    if suppressed:
        totals = {key: None for key in totals}
    elif privacy.small_group(totals["cli_developers"], k):
        # requests include the CLI's: requests minus prompts would be the few CLI users' agent follow-ups
        for key in CLI_COLUMNS + ("cli_requests_per_prompt", "requests", "requests_per_active_developer"):
            totals[key] = None
    return {"team": totals, "org": org, "suppressed": suppressed, "k": k,
            "members": int(members) if members >= k or members == 0 else None}


def team_breakdown(con: duckdb.DuckDBPyConnection, team: str, period: Period, by: str, k: int) -> pd.DataFrame:
    """Team usage in the period by 'feature' or 'model': users, interactions, generations, acceptances.

    Rows over fewer than `k` users are folded into one 'other (fewer than k users)' row, itself
    suppressed if it still covers fewer than k users.
    """
    if by not in ("feature", "model"):
        raise ValueError("by must be 'feature' or 'model'")
    view = "user_day_feature" if by == "feature" else "user_day_model_feature"
    frame = con.execute(f"""
        SELECT f.{by}, count(DISTINCT f.user_id) AS users,
               sum(f.user_initiated_interaction_count) AS interactions,
               sum(f.code_generation_activity_count) AS generations,
               sum(f.code_acceptance_activity_count) AS acceptances,
               sum(f.loc_added_sum) AS loc_added
        FROM {view} f
        JOIN (SELECT day, user_id FROM int_team_member_day WHERE team_slug = ?) m USING (day, user_id)
        WHERE f.day BETWEEN ? AND ?
        GROUP BY f.{by} ORDER BY generations DESC
    """, [team, period.start, period.end]).df()
    small = privacy.small_group(frame["users"], k)
    if small.any():
        other_users = con.execute(f"""
            SELECT count(DISTINCT f.user_id) FROM {view} f
            JOIN (SELECT day, user_id FROM int_team_member_day WHERE team_slug = ?) m USING (day, user_id)
            WHERE f.day BETWEEN ? AND ? AND f.{by} IN (SELECT unnest(?::VARCHAR[]))
        """, [team, period.start, period.end, list(frame.loc[small, by])]).fetchone()[0]
        other = frame.loc[small].drop(columns=[by, "users"]).sum()
        frame = frame.loc[~small].copy()
        row = {by: f"other (fewer than {k} users each)", "users": other_users, **other.to_dict()}
        if privacy.small_group(other_users, k):
            row.update({c: float("nan") for c in ("interactions", "generations", "acceptances", "loc_added", "users")})
        frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
    frame["acceptance_ratio"] = frame["acceptances"] / frame["generations"].where(frame["generations"] > 0)
    if by == "feature":
        frame.loc[frame["feature"] == "agent_edit", "acceptance_ratio"] = float("nan")  # no acceptances by design
    return frame


SUMMARY_FIGURES = {"ai_credits_used": "ai_credits"}  # summary key -> figure key, where the names differ


def show(summary: dict, key: str, side: str = "team") -> str:
    """A figure of `team_period_summary` as text (`figures.show`): suppressed when the team is, or when the
    group the figure is computed from (its CLI users, for a CLI figure) has fewer than k people."""
    figure = SUMMARY_FIGURES.get(key, key)
    if side == "team" and summary["suppressed"]:
        return figures.show(figure, None, people=1, k=summary["k"])
    values = summary[side]
    return figures.show(figure, values.get(key), people=figures.people_of(figure, values), k=summary["k"])


SHARE_SOURCES = {  # by -> (table, its column, measures it reports)
    "language": ("user_day_language_feature", "language", ("code_generation_activity_count", "code_acceptance_activity_count")),
    "ide": ("user_day_ide", "ide", ("user_initiated_interaction_count", "code_generation_activity_count",
                                     "code_acceptance_activity_count")),
}
SHARE_NAMES = {"user_initiated_interaction_count": "share of prompts", "code_generation_activity_count": "share of outputs",
               "code_acceptance_activity_count": "share of accepted outputs"}


def team_shares(con: duckdb.DuckDBPyConnection, team: str, period: Period, by: str, k: int) -> pd.DataFrame:
    """The team's use by programming 'language' or editor ('ide'): developers and each category's share of the
    team's prompts (editors only: GitHub reports no prompts per language), outputs and accepted outputs.

    Categories used by fewer than `k` developers are folded into one 'other' row; while that row covers fewer than
    k, the next smallest category joins it (else the shown shares would give its share away); it is blanked (NaN)
    if it still covers fewer than k. Every row is blanked when the team had fewer than k active developers. Columns: the
    category (`by`), developers, the shares (fractions of the team's totals), suppressed (bool).
    """
    table, column, measures = SHARE_SOURCES[by]
    sums = ", ".join(f"coalesce(sum(f.{m}), 0) AS {m}" for m in measures)
    member = "JOIN (SELECT day, user_id FROM int_team_member_day WHERE team_slug = ?) m USING (day, user_id)"
    frame = con.execute(f"""
        SELECT f.{column} AS category, count(DISTINCT f.user_id) AS developers, {sums}
        FROM {table} f {member} WHERE f.day BETWEEN ? AND ? GROUP BY 1 ORDER BY {measures[-1]} DESC, 1
    """, [team, period.start, period.end]).df()
    small, others = (frame["developers"] < k).to_numpy().copy(), 0
    while small.any():
        others = con.execute(f"""SELECT count(DISTINCT f.user_id) FROM {table} f {member}
                                 WHERE f.day BETWEEN ? AND ? AND f.{column} IN (SELECT unnest(?::VARCHAR[]))""",
                             [team, period.start, period.end, list(frame.loc[small, "category"])]).fetchone()[0]
        if others >= k or small.all():
            break
        small[len(small) - 1 - list(small[::-1]).index(False)] = True  # an 'other' under k joins the next smallest:
        # shown shares would otherwise give its share away (one minus their sum)
    if small.any():
        other = {"category": "other", "developers": others,
                 **frame.loc[small, list(measures)].sum().to_dict()}
        frame = pd.concat([frame.loc[~small], pd.DataFrame([other])], ignore_index=True)
    totals = frame[list(measures)].sum()
    out = pd.DataFrame({by: frame["category"], "developers": frame["developers"].astype("float64")})
    for m in measures:
        out[SHARE_NAMES[m]] = frame[m] / totals[m] if totals[m] else float("nan")
    active = con.execute(f"SELECT count(DISTINCT u.user_id) FROM int_user_day_usage u {member} "
                         "WHERE u.active AND u.day BETWEEN ? AND ?", [team, period.start, period.end]).fetchone()[0]
    out["suppressed"] = (out["developers"] < k) | (0 < active < k)
    out.loc[out["suppressed"], out.columns.drop([by, "suppressed"])] = float("nan")
    return out


def _compare(team_value, org_value) -> str:
    if not team_value or not org_value:
        return ""
    ratio = team_value / org_value
    if 0.9 <= ratio <= 1.1:
        return "about the same as the org"
    return (f"{formatting.number(ratio, 1)}× the org's" if ratio > 1
            else f"{formatting.percent(ratio)} of the org's")


PER_DEVELOPER_NOTE = ("prompts are IDE prompts plus CLI prompts; the CLI's requests, which add the agent's automatic "
                      "follow-ups, are a figure of their own")


def summary_markdown(team: str, period: Period, summary: dict) -> str:
    """The written summary of a team's month, built from the figures it quotes."""
    k = summary["k"]
    if summary["suppressed"]:
        return (f"**{team}, {period.label}.** Fewer than {k} developers were active this month, so the "
                "team's figures are suppressed to protect individuals. They still count in the org's totals.")
    t, o = summary["team"], summary["org"]
    if not t["active_developers"]:
        return f"**{team}, {period.label}.** No Copilot activity was recorded for this team in the month."
    parts = [
        f"**{team}, {period.label}.** {show(summary, 'active_developers')} developers used Copilot on "
        f"{formatting.number(t['active_days'])} days, with {show(summary, 'prompts_per_active_developer')} prompts "
        f"per active developer ({_compare(t['prompts_per_active_developer'], o['prompts_per_active_developer'])}; "
        f"{PER_DEVELOPER_NOTE}).",
        f"They accepted {show(summary, 'accepted_output_ratio')} of the outputs offered "
        f"(org: {show(summary, 'accepted_output_ratio', 'org')}; agent edits left out, as they carry no acceptances) "
        f"and added {show(summary, 'loc_added')} lines with Copilot's help.",
    ]
    if figures.hidden(t["cli_developers"], k):
        parts.append(f"Fewer than {k} of them used the Copilot CLI, so its figures are not shown.")
    elif t["cli_developers"]:
        tokens = (t["cli_prompt_tokens"] + t["cli_output_tokens"]) / 1e6
        parts.append(
            f"{show(summary, 'cli_developers')} used the Copilot CLI: {show(summary, 'cli_sessions')} sessions, "
            f"{show(summary, 'cli_prompts')} prompts and {show(summary, 'cli_requests')} requests, "
            f"{show(summary, 'cli_requests_per_prompt')} requests per prompt "
            f"(org: {show(summary, 'cli_requests_per_prompt', 'org')}) and "
            f"{figures.show('cli_tokens_millions', tokens)} M tokens.")
    if t["ai_credits_used"]:
        parts.append(
            f"The team used {show(summary, 'ai_credits_used')} AI credits, "
            f"{show(summary, 'credits_per_active_developer')} per active developer "
            f"({_compare(t['credits_per_active_developer'], o['credits_per_active_developer'])}).")
    return " ".join(parts)


HEADLINE_FIGURES = ("active_developers", "prompts_per_active_developer", "requests_per_active_developer",
                    "accepted_output_ratio", "loc_added", "cli_sessions", "cli_requests_per_prompt", "ai_credits_used",
                    "credits_per_active_developer")


def headline_table(summary: dict) -> pd.DataFrame:
    """Team against org, one row per figure, for the report's figures table."""
    return pd.DataFrame([{"measure": figures.label(SUMMARY_FIGURES.get(key, key)), "team": show(summary, key),
                          "whole org": show(summary, key, "org")} for key in HEADLINE_FIGURES])


def breakdown_display(frame: pd.DataFrame, by: str, k: int) -> pd.DataFrame:
    """`team_breakdown` as text for a page: every figure through `figures.show`; the folded row says so when
    it is still under k developers."""
    hidden = privacy.suppressed_label(k)

    def column(key, name):
        return [hidden if pd.isna(r["users"]) else figures.show(key, r[name]) for r in frame.to_dict("records")]

    return pd.DataFrame({by: frame[by], "developers": column("active_developers", "users"),
                         "IDE prompts": column("prompts", "interactions"),
                         "outputs generated": column("outputs_generated", "generations"),
                         "outputs accepted": column("outputs_accepted", "acceptances"),
                         "lines added": column("loc_added", "loc_added"),
                         "accepted-output ratio": column("accepted_output_ratio", "acceptance_ratio")})
