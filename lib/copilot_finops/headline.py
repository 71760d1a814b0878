"""The month at a glance: the org's headline strip (index and 00), each team's row (index) and each team's summary
(the combined retro's first screen). One place computes them from the modules' own figures, so the index,
the overview and the retro quote the same numbers, written by `fmt`.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from . import cost, fmt, overview, overview_display, privacy, seats, usage
from .params import OrgParams
from .period import Period


@dataclass
class Glance:
    """What the headline figures are read from, computed once for a month."""

    month: overview.OrgMonth
    teams: pd.DataFrame  # overview.team_table: one row per team, figures of teams under k blanked
    org: dict  # cost.org_costs
    idle: pd.DataFrame  # seats.inactive_seats, per team and '(org)'
    currency: str
    segment_labels: dict[str, str]

    @property
    def k(self) -> int:
        return self.month.k


def month_glance(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, key: bytes | None = None,
                 playbooks=None, month: overview.OrgMonth | None = None) -> Glance:
    """Collect the month once (`overview.collect` unless given) with the org's costs and idle seats."""
    month = month or overview.collect(con, period, params, key, playbooks)
    figures = overview.team_figures(month, overview.membership(con, period), params)
    return Glance(month, overview.team_table(figures, month.k), cost.org_costs(con, period, params, month.costs),
                  seats.inactive_seats(con, month.as_of, params), params.currency,
                  {segment: s.label for segment, s in params.segments.items()})


def _counts(values: pd.Series) -> str:
    """'80%: 2 · 95%: 1': how many of each value, in order of first appearance."""
    counts = values.value_counts(sort=False)
    return " · ".join(f"{fmt.words(k)}: {counts[k]}" for k in dict.fromkeys(values))


def org_strip(g: Glance) -> list[tuple[str, str, str]]:
    """The org's month in six figures: (label, value, note) each."""
    o, teams = g.org, g.teams
    strip = [("Spend this month", fmt.money(o["total_cost"], g.currency),
              f"seats {fmt.money(o['seat_cost'], g.currency)}, AI credits beyond the pool "
              f"{fmt.money(o['ai_credit_cost'] + o['premium_cost'], g.currency)}"),
             ("AI credits used", fmt.count(o["ai_credits"]),
              f"{fmt.pct(o['pool_used'])} of the {fmt.count(o['pool_credits'])} included" if o["pool_used"] is not None
              else "no included pool this month"),
             ("Active developers", fmt.count(o["active_developers"]), f"in {fmt.plural(len(teams), 'team')}")]
    if "stage_label" in teams:
        staged = teams[teams["stage_status"].isin(["reached", "forecast"])]
        strip.append(("Teams at a budget stage", f"{len(staged)} of {len(teams)}",
                      _counts(staged["stage_label"].sort_values()) if len(staged) else "every team below its first threshold"))
    if "verdict" in teams:
        verdicts = teams["verdict"].fillna("n/a")
        acted = f"{(verdicts == 'scaling').sum()} scaling, {(verdicts == 'tighten').sum()} tighten"
        rest = verdicts[~verdicts.isin(["scaling", "tighten"])]
        strip.append(("Delivery verdicts", acted, _counts(rest) if len(rest) else ""))
    idle = g.idle.set_index("team_slug")
    if "(org)" in idle.index:
        strip.append(("Idle seats", fmt.count(idle.loc["(org)", "inactive_seats"]),
                      f"{fmt.money(idle.loc['(org)', 'monthly_cost'], g.currency)} a month"))
    else:
        strip.append(("Idle seats", "0", "every seat was used recently"))
    return strip


def team_rows(g: Glance) -> pd.DataFrame:
    """Each team's row for the index: the overview's columns a reader scans first (text, as `fmt` writes it)."""
    rows = overview_display.team_display(g.teams, g.k, g.currency)
    keep = ["team", "segment", "developers", "spend", "used / forecast", "stage", "delivery verdict"]
    rows = rows[[c for c in keep if c in rows]].copy()
    rows["segment"] = [fmt.words(s, g.segment_labels) for s in rows["segment"]]
    return rows.rename(columns={"used / forecast": "budget used / forecast"})


def team_summary(g: Glance, con: duckdb.DuckDBPyConnection, team: str) -> list[tuple[str, str, str]]:
    """A team's month on one screen, for the combined retro: the figures of its index row and of page 01."""
    k, period = g.k, g.month.period
    row = g.teams.set_index("team_slug").loc[team] if team in set(g.teams["team_slug"]) else None
    summary = usage.team_period_summary(con, team, period, k)
    t, o = summary["team"], summary["org"]
    hidden = privacy.suppressed_label(k)
    shown = not summary["suppressed"] and row is not None and not bool(row.get("suppressed", False))

    def figure(value):
        return value if shown else hidden

    cards = [("Active developers", figure(fmt.count(t["active_developers"])),
              f"of {fmt.count(row['members'])} members" if shown and row["members"] == row["members"] else ""),
             ("Requests per active developer", figure(fmt.count(t["requests_per_active_developer"])),
              f"org: {fmt.count(o['requests_per_active_developer'])}"),
             ("Accepted-output ratio", figure(fmt.pct(t["accepted_output_ratio"])),
              f"org: {fmt.pct(o['accepted_output_ratio'])}"),
             ("AI credits used", figure(fmt.count(t["ai_credits_used"])),
              f"{fmt.count(t['credits_per_active_developer'])} per active developer" if shown else "")]
    if row is not None:
        if "total_cost" in row:
            cards.append(("Spend", figure(fmt.money(row["total_cost"], g.currency)), "seats and AI credits"))
        if "stage_label" in row and row["stage_label"] == row["stage_label"]:
            cards.append(("Budget stage", str(row["stage_label"]),
                          f"used {fmt.pct(row['pct_to_date'])}, forecast {fmt.pct(row['pct_forecast'])} of "
                          f"{row['budget']}" if shown else f"budget {row['budget']}"))
        if "flagged_weeks" in row:
            cards.append(("Flagged developer-weeks", figure(fmt.count(row["flagged_weeks"])), "high burn, low value"))
        if "verdict" in row:
            cards.append(("Delivery verdict", fmt.words(row["verdict"]), "usage against delivery quality"))
    return cards
