"""The month at a glance: the org's headline strip (index and 00), each team's row (index) and each team's summary
(the combined retro's first screen). One place computes them from the modules' own figures, so the index,
the overview and the retro quote the same numbers, each written by `figures.show`.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from . import cost, formatting, overview, overview_display, privacy, seats, usage
from .figures import show
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
    return " · ".join(f"{formatting.words(k)}: {counts[k]}" for k in dict.fromkeys(values))


def org_strip(g: Glance) -> list[tuple[str, str, str]]:
    """The org's month in six figures: (label, value, note) each, written by `figures.show`."""
    o, teams, cur = g.org, g.teams, g.currency
    usage_cost = o["ai_credit_cost"] + o["premium_cost"]
    usage_note = (f"AI credits beyond the pool {show('ai_credit_cost', usage_cost, currency=cur)}" if usage_cost > 0
                  else "AI credits within the included pool, no charge")
    strip = [("Spend this month", show("spend", o["total_cost"], currency=cur),
              f"seats {show('seat_cost', o['seat_cost'], currency=cur)}, {usage_note}"),
             ("AI credits used", show("ai_credits", o["ai_credits"]),
              f"{show('pool_use', o['pool_used'])} of the {show('pool_share', o['pool_credits'])} included"
              if o["pool_used"] is not None else "no included pool this month"),
             ("Active developers", show("active_developers", o["active_developers"]),
              f"in {formatting.plural(len(teams), 'team')}")]
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
        strip.append(("Idle seats", show("idle_seats", idle.loc["(org)", "inactive_seats"]),
                      f"{show('idle_seat_cost', idle.loc['(org)', 'monthly_cost'], currency=cur)} a month"))
    else:
        strip.append(("Idle seats", "0", "every seat was used recently"))
    return strip


def team_rows(g: Glance) -> pd.DataFrame:
    """Each team's row for the index: the overview's columns a reader scans first (text, as `figures.show`
    writes it on page 00)."""
    rows = overview_display.team_display(g.teams, g.k, g.currency)
    used = [c for c in rows if c.startswith("used / ")]  # "used / forecast", or "used / month end" once closed
    keep = ["team", "segment", "developers", "spend", *used, "stage", "delivery verdict"]
    rows = rows[[c for c in keep if c in rows]].copy()
    rows["segment"] = [formatting.words(s, g.segment_labels) for s in rows["segment"]]
    return rows.rename(columns={c: f"budget {c}" for c in used})


def team_summary(g: Glance, con: duckdb.DuckDBPyConnection, team: str) -> list[tuple[str, str, str]]:
    """A team's month on one screen, for the combined retro: the figures of its index row and of page 01, each
    written by `figures.show` (`usage.show` for page 01's), suppressed as there."""
    k, period, cur = g.k, g.month.period, g.currency
    row = g.teams.set_index("team_slug").loc[team] if team in set(g.teams["team_slug"]) else None
    summary = usage.team_period_summary(con, team, period, k)
    shown = not summary["suppressed"] and row is not None and not bool(row.get("suppressed", False))
    hidden = privacy.suppressed_label(k)

    def figure(text):
        return text if shown else hidden

    def org(key):
        return f"org: {usage.show(summary, key, side='org')}"

    cards = [("Active developers", figure(usage.show(summary, "active_developers")),
              f"of {show('members', row['members'])} members" if shown and row["members"] == row["members"] else ""),
             ("Prompts per active developer", figure(usage.show(summary, "prompts_per_active_developer")),
              org("prompts_per_active_developer")),
             ("Accepted-output ratio", figure(usage.show(summary, "accepted_output_ratio")), org("accepted_output_ratio")),
             ("AI credits used", figure(usage.show(summary, "ai_credits_used")),
              f"{usage.show(summary, 'credits_per_active_developer')} per active developer" if shown else "")]
    if row is not None:
        if "total_cost" in row:
            cards.append(("Spend", figure(show("spend", row["total_cost"], currency=cur)), "seats and AI credits"))
        if "stage_label" in row and row["stage_label"] == row["stage_label"]:
            cards.append(("Budget stage", str(row["stage_label"]),
                          f"used {show('budget_use', row['pct_to_date'])}, forecast "
                          f"{show('budget_forecast_use', row['pct_forecast'])} of {row['budget']}" if shown
                          else f"budget {row['budget']}"))
        if "flagged_weeks" in row:
            weeks = row["flagged_weeks"]
            cards.append(("Flagged developer-weeks", figure(
                "0" if not weeks else show("flagged_weeks", weeks, people=row.get("flagged_developers"), k=k)),
                "high burn, low value"))
        if "verdict" in row:
            cards.append(("Delivery verdict", formatting.words(row["verdict"]), "usage against delivery quality"))
    return cards
