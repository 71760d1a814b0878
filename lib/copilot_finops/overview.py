"""The org overview for the platform team (notebook 00): every team and segment side by side for one month.

Figures come from the modules that define them: cost (spend, idle seats), budget (forecast, stage), patterns
(flagged weeks), delivery.report (verdicts). This module collects them once, lines them up per team and per
segment, and applies privacy: teams under k developers are blanked, and a segment total is blanked when
subtracting the teams shown beside it would isolate fewer than k developers. It adds two views of its own:
the seat reclaim list (pseudonymous; new joiners and leavers left out) and adoption cohorts by seat start.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from . import bill, budget, cost, gaps, patterns, privacy, seats, usage
from .delivery import report as delivery_report
from .figures import show
from .params import OrgParams
from .period import Period

ALL_TEAMS = "all teams"


@dataclass
class OrgMonth:
    """What the overview reads from the other modules for one month."""

    period: Period
    as_of: date
    k: int
    teams: list[str]
    costs: pd.DataFrame
    guardrails: budget.GuardrailReport
    flagged: pd.DataFrame
    verdicts: pd.DataFrame


def collect(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, key: bytes | None = None,
            playbooks=None) -> OrgMonth:
    """Run each module's public function once for the whole org."""
    k = params.privacy.k_anonymity
    teams = usage.teams_in_warehouse(con, period)
    last = gaps.usage_as_of(con)
    verdicts = delivery_report.team_verdicts(con, period, params)
    return OrgMonth(period, min(period.end, last) if last else period.end, k, teams,
                    costs=cost.team_costs(con, period, params),
                    guardrails=budget.evaluate_guardrails(con, period, params),
                    flagged=patterns.detect(con, params, period, playbooks=playbooks, key=key),
                    verdicts=verdicts)


# -- teams and segments side by side -----------------------------------------------------------------------------
def membership(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    """Distinct members and active developers per team in the month (per-day membership): team_slug, user_id, active."""
    return con.execute("""
        SELECT m.team_slug, m.user_id, bool_or(coalesce(u.active, false)) AS active
        FROM int_team_member_day m LEFT JOIN int_user_day_usage u USING (day, user_id)
        WHERE m.day BETWEEN ? AND ? AND m.team_slug IS NOT NULL
        GROUP BY ALL
    """, [period.start, period.end]).df()


TEAM_FIGURES = ("active_developers", "total_cost", "ai_credits", "burn_to_date", "forecast", "pct_to_date",
                "pct_forecast", "flagged_weeks", "flagged_developers", "flagged_credits")
# A group's figures, each person once (budgets are not added up: teams budget in USD or in credits)
GROUP_FIGURES = ("total_cost", "ai_credits", "flagged_weeks", "flagged_developers")


def team_figures(month: OrgMonth, members: pd.DataFrame, params: OrgParams) -> pd.DataFrame:
    """One row per team, unsuppressed: segment, members, active developers, spend, budget, forecast, stage,
    flagged weeks and their credits, verdict, and `small` (fewer than k members or active developers).

    For sums only: show `team_table`, which blanks the small teams.
    """
    counts = members.groupby("team_slug").agg(members=("user_id", "nunique"), active_developers=("active", "sum"))
    frame = pd.DataFrame({"team_slug": month.teams}).join(counts, on="team_slug")
    frame["segment"] = [params.segment_of(t) for t in frame["team_slug"]]
    frame = frame.merge(month.costs[["team_slug", "total_cost", "ai_credits"]], on="team_slug", how="left")
    if len(month.guardrails.rows):
        g = month.guardrails.rows
        g = g[g["scope"] == "team"][["name", "unit", "budget", "burn_to_date", "forecast", "pct_to_date", "pct_forecast",
                                     "stage_label", "stage_status", "forecast_basis"]]
        frame = frame.merge(g.rename(columns={"name": "team_slug"}), on="team_slug", how="left")
        frame["budget"] = [show("budget", b, unit=u, currency=params.currency) if b == b else "none"
                           for b, u in zip(frame["budget"], frame["unit"])]
    f = month.flagged.groupby("team_slug").agg(flagged_weeks=("week_start", "size"), flagged_developers=("user", "nunique"),
                                               flagged_credits=("credits", "sum"))
    frame = frame.join(f, on="team_slug")
    frame[["flagged_weeks", "flagged_developers"]] = frame[["flagged_weeks", "flagged_developers"]].fillna(0)
    frame = frame.merge(month.verdicts[["team_slug", "verdict"]], on="team_slug", how="left")
    frame["small"] = (privacy.small_group(frame["members"].fillna(0), month.k)
                      | privacy.small_group(frame["active_developers"].fillna(0), month.k))
    return frame


def team_table(figures: pd.DataFrame, k: int) -> pd.DataFrame:
    """team_figures for display: teams under k keep their stage and verdict, their figures are blanked."""
    columns = [c for c in TEAM_FIGURES if c in figures]
    return privacy.suppress(figures.drop(columns=["small"]), "members", k, columns, also=figures["small"])


def person_totals(con: duckdb.DuckDBPyConnection, month: OrgMonth, params: OrgParams):
    """For `segment_table`: totals of groups of teams that count each person once (`bill.group_totals`), with
    the group's flagged developer-weeks (each is reported under one team) and the developers behind them."""
    def totals(groups: dict[str, list[str]]) -> pd.DataFrame:
        frame = bill.group_totals(con, month.period, params, groups, month.costs).set_index("group")
        flagged = month.flagged
        frame["flagged_weeks"] = [int(flagged["team_slug"].isin(teams).sum()) for teams in groups.values()]
        frame["flagged_developers"] = [flagged.loc[flagged["team_slug"].isin(teams), "user"].nunique()
                                       for teams in groups.values()]
        return frame
    return totals


def _total(label: str, group: pd.DataFrame, members: pd.DataFrame, k: int, counted_once: pd.Series) -> dict:
    ids = members[members["team_slug"].isin(group["team_slug"])]
    hidden = members[members["team_slug"].isin(group.loc[group["small"], "team_slug"])]["user_id"].nunique()
    return {"segment": label, "teams": len(group), "members": ids["user_id"].nunique(),
            "active_developers": ids.loc[ids["active"], "user_id"].nunique(),
            # the total minus the teams shown beside it is the hidden teams' figure: a group of `hidden` people
            "reveals_small_group": bool(privacy.small_group(hidden, k)),
            **{c: counted_once[c] for c in GROUP_FIGURES if c in counted_once}}


def segment_table(figures: pd.DataFrame, members: pd.DataFrame, k: int,
                  segment_guardrails: pd.DataFrame | None = None, *, counted_once) -> pd.DataFrame:
    """Segments side by side, then the whole of the teams, each person counted once.

    `counted_once(groups)` takes {label: [team, ...]} and returns, indexed by label, the groups' GROUP_FIGURES
    over their people, each person-day once (`person_totals`): a developer on two teams of a segment is one
    developer of it, where adding the teams' figures counts them twice.
    A segment's figures are blanked when its hidden teams (under k) hold 1 .. k-1 developers, as subtracting the
    teams shown would give those teams' figures. The last row covers every team, or, when subtracting the segments
    and teams shown from it would reveal hidden teams the same way, only the teams with k or more developers
    (and says so). Segments with a budget
    of their own get its forecast share and stage from `segment_guardrails` (budget.evaluate_guardrails rows).
    """
    groups = {segment: list(group["team_slug"]) for segment, group in figures.groupby("segment", sort=True)}
    shown_label = f"teams with {k} or more developers"
    groups[ALL_TEAMS] = list(figures["team_slug"])
    groups[shown_label] = list(figures.loc[~figures["small"], "team_slug"])
    totals = counted_once(groups)
    rows = [_total(segment, figures[figures["team_slug"].isin(teams)], members, k, totals.loc[segment])
            for segment, teams in groups.items() if segment not in (ALL_TEAMS, shown_label)]
    # The whole minus the segments shown (and the teams shown in blanked segments) leaves the hidden teams of the
    # blanked segments: the whole is safe only if those hold 0 or k or more developers.
    blanked = {r["segment"] for r in rows if r["reveals_small_group"]}
    everything = _total(ALL_TEAMS, figures, members, k, totals.loc[ALL_TEAMS])
    exposed = figures[figures["small"] & figures["segment"].isin(blanked)]["team_slug"]
    if privacy.small_group(members[members["team_slug"].isin(exposed)]["user_id"].nunique(), k):
        everything = _total(shown_label, figures[~figures["small"]], members, k, totals.loc[shown_label])
    frame = pd.DataFrame(rows + [everything])
    sums = ["active_developers", *[c for c in GROUP_FIGURES if c in frame]]
    if segment_guardrails is not None and len(segment_guardrails):
        g = segment_guardrails[segment_guardrails["scope"] == "segment"][["name", "pct_forecast", "stage_label"]]
        if len(g):
            frame = frame.merge(g.rename(columns={"name": "segment"}), on="segment", how="left")
            frame["stage_label"] = frame["stage_label"].fillna("no budget")
            sums.append("pct_forecast")
    out = privacy.suppress(frame, "members", k, sums, also=frame["reveals_small_group"])
    return out.drop(columns=["reveals_small_group"])


# -- patterns and seat waste --------------------------------------------------------------------------------------
def reclaim_list(con: duckdb.DuckDBPyConnection, as_of: date, params: OrgParams, key: bytes,
                 detail: bool = False) -> tuple[pd.DataFrame, dict]:
    """Idle seats worth reclaiming on `as_of`, one per row, and what was left out.

    Idle uses seats.inactive_seats' definition: a seat held on `as_of` with no activity (the later of the seats API's
    last_activity_at and the last active day in the usage reports) for `guardrails.inactive_seat_days` days. New
    joiners (seat created within that window) and leavers (cancellation pending) are left out of the list and
    counted. People are pseudonyms unless `detail` (audited incident mode).
    Returns (frame: developer, team, plan, days idle, monthly cost; {'joiners': n, 'leavers': n}).
    """
    days = params.guardrails.inactive_seat_days
    frame = con.execute("""
        WITH held AS (SELECT user_id, plan_type FROM int_cost_seat_day WHERE day = $1),
        latest AS (SELECT user_id, arg_max(last_activity_at, snapshot_day)::DATE AS last_api,
                          arg_max(user_login, snapshot_day) AS login, min(created_at)::DATE AS created,
                          arg_max(pending_cancellation_date, snapshot_day) AS pending
                   FROM seat WHERE snapshot_day <= $1 GROUP BY user_id),
        usage AS (SELECT user_id, max(day) AS last_day FROM int_user_day_usage WHERE active AND day <= $1 GROUP BY user_id),
        team_day AS (SELECT user_id, max(day) AS day FROM int_team_member_day WHERE day <= $1 GROUP BY user_id),
        teams AS (SELECT m.user_id, string_agg(DISTINCT m.team_slug, ', ' ORDER BY m.team_slug) AS teams
                  FROM int_team_member_day m JOIN team_day t USING (user_id, day) GROUP BY m.user_id)
        SELECT l.login, coalesce(t.teams, '(no team)') AS team, h.plan_type, l.created, l.pending,
               coalesce(greatest(l.last_api, u.last_day), l.last_api, u.last_day) AS last_active
        FROM held h LEFT JOIN latest l USING (user_id) LEFT JOIN usage u USING (user_id) LEFT JOIN teams t USING (user_id)
        WHERE coalesce(greatest(l.last_api, u.last_day), l.last_api, u.last_day, DATE '1970-01-01') < $1 - ($2 * INTERVAL 1 DAY)
    """, [as_of, days]).df()
    joiner = pd.to_datetime(frame["created"]) > pd.Timestamp(as_of - timedelta(days=days))
    leaver = frame["pending"].notna()
    kept = frame[~joiner & ~leaver]
    prices = params.prices.seat_per_month
    idle = [(as_of - d).days if pd.notna(d) else None for d in pd.to_datetime(kept["last_active"]).dt.date]
    out = pd.DataFrame({
        "developer": privacy.person_labels(kept["login"], key, detail).to_numpy(), "team": kept["team"].to_numpy(),
        "plan": kept["plan_type"].to_numpy(),
        "days idle": [f"{d}" if d is not None else "never active" for d in idle],
        "monthly cost": [prices.get(p, params.seat_price) for p in kept["plan_type"]]})
    return out.sort_values(["team", "developer"], ignore_index=True), {"joiners": int(joiner.sum()), "leavers": int((leaver & ~joiner).sum())}


def idle_seats_by_team(month: OrgMonth, teams: pd.DataFrame, params: OrgParams, con) -> pd.DataFrame:
    """seats.inactive_seats per team, with teams under k blanked."""
    frame = seats.inactive_seats(con, month.as_of, params)
    small = set(teams.loc[teams["suppressed"], "team_slug"])
    hide = frame["team_slug"].isin(small)
    frame["inactive_seats"] = frame["inactive_seats"].astype(float).mask(hide)
    frame["monthly_cost"] = frame["monthly_cost"].astype(float).mask(hide)
    return frame.rename(columns={"team_slug": "team", "inactive_seats": "idle seats", "monthly_cost": "monthly cost"})


# -- adoption cohorts -------------------------------------------------------------------------------------------------
def fold_small_cohorts(frame: pd.DataFrame, k: int, size: str = "developers") -> pd.DataFrame:
    """Merge cohorts (rows in time order, `cohort` labels, additive columns) with fewer than k into the next one.

    A small last cohort goes into the one before it. Labels of merged cohorts read 'first – last'.
    """
    rows = [r.copy() for _, r in frame.iterrows()]
    merged: list[pd.Series] = []
    carry = None
    for row in rows:
        if carry is not None:
            label = f"{carry['cohort'].split(' – ')[0]} – {row['cohort'].split(' – ')[-1]}"
            row = carry.drop("cohort").add(row.drop("cohort"), fill_value=0)
            row["cohort"] = label
            carry = None
        if row[size] < k:
            carry = row
        else:
            merged.append(row)
    if carry is not None:
        if merged:
            last = merged.pop()
            label = f"{last['cohort'].split(' – ')[0]} – {carry['cohort'].split(' – ')[-1]}"
            row = last.drop("cohort").add(carry.drop("cohort"), fill_value=0)
            row["cohort"] = label
            merged.append(row)
        else:
            merged.append(carry)
    out = pd.DataFrame(merged, columns=frame.columns).reset_index(drop=True)
    return out


def adoption_cohorts(con: duckdb.DuckDBPyConnection, period: Period, k: int) -> pd.DataFrame:
    """Developers grouped by the quarter their seat started: how many were active this month and how deeply.

    Columns: cohort, developers (seat holders in the month), active (used Copilot in the month), share_active,
    prompts_per_active_developer, share_integrating (active developers whose latest GitHub adoption phase is
    'integrate' or 'transform'). Cohorts under k developers are merged with the next; a cohort still under k
    is suppressed.
    """
    frame = con.execute("""
        WITH holders AS (
            SELECT DISTINCT s.user_id FROM int_cost_seat_day s WHERE s.day BETWEEN $1 AND $2),
        start AS (SELECT user_id, min(created_at)::DATE AS seat_start FROM seat GROUP BY user_id),
        use AS (
            SELECT u.user_id, bool_or(u.active) AS active, sum(u.prompts) AS prompts,
                   arg_max(u.adoption_phase, u.day) FILTER (WHERE u.active) AS phase
            FROM int_user_day_usage u
            WHERE u.day BETWEEN $1 AND $2 GROUP BY u.user_id)
        SELECT strftime(coalesce(s.seat_start, $1), '%Y') || '-Q' || quarter(coalesce(s.seat_start, $1)) AS cohort,
               count(*) AS developers, count(*) FILTER (WHERE u.active) AS active,
               coalesce(sum(u.prompts) FILTER (WHERE u.active), 0) AS prompts,
               count(*) FILTER (WHERE u.active AND u.phase >= 3) AS integrating
        FROM holders h LEFT JOIN start s USING (user_id) LEFT JOIN use u USING (user_id)
        GROUP BY 1 ORDER BY 1
    """, [period.start, period.end]).df()
    if frame.empty:
        return pd.DataFrame(columns=["cohort", "developers", "active", "share_active", "prompts_per_active_developer",
                                     "share_integrating", "suppressed"])
    frame = fold_small_cohorts(frame, k)
    frame["share_active"] = frame["active"] / frame["developers"]
    frame["prompts_per_active_developer"] = frame["prompts"] / frame["active"].where(frame["active"] > 0)
    frame["share_integrating"] = frame["integrating"] / frame["active"].where(frame["active"] > 0)
    out = privacy.suppress(frame.drop(columns=["prompts", "integrating"]), "developers", k)
    # an active count of 1 .. k-1 inside a large cohort is still a figure about a few people
    few_active = privacy.small_group(out["active"].fillna(0), k)
    out.loc[few_active, ["active", "prompts_per_active_developer", "share_integrating"]] = float("nan")
    return out


# -- charts -------------------------------------------------------------------------------------------------------------
