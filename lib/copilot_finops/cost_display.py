"""Words and tables for the cost pages (notebook 02), every figure written through `figures`.

The cost model itself is `cost`; this module only quotes it, so a figure reads the same here as on every other
page, and a figure computed from fewer than k people (members, active developers or CLI users, by the figure's
definition) reads 'suppressed (< k)'.
"""
from __future__ import annotations

import pandas as pd

from . import figures
from .cost import credit_era
from .params import OrgParams
from .period import Period


def _show(key: str, row, params: OrgParams, value=None) -> str:
    k = params.privacy.k_anonymity
    value = row.get(key) if value is None else value
    return figures.show(key, value, people=figures.people_of(key, row), k=k, currency=params.currency)


def cost_summary_markdown(row: pd.Series, org: dict, period: Period, params: OrgParams) -> str:
    """The written summary of a team's month of cost, built from the cost-model row it quotes."""
    team = row["team_slug"]
    k = params.privacy.k_anonymity
    if row["below_k"]:
        return (f"**{team}, {period.label}.** The team had fewer than {k} members, so its cost figures are "
                "suppressed to protect individuals; they still count in the org's totals.")

    def show(key, value=None):
        return _show(key, row, params, value)

    parts = [f"**{team}, {period.label}.** Copilot cost the team {show('spend', row['total_cost'])}: "
             f"{show('seat_months')} seat-months ({show('seat_cost')}, joiners and leavers prorated)"]
    if credit_era(period, params):
        share = f"{show('pool_share')} credits of the included pool came with its seats"
        used = show("ai_credits")
        if row["billed_credits"] > 0:
            parts[0] += (f" and {show('ai_credit_cost')} of AI credits. It used {used} credits; {share}, and its "
                         f"part of the org's overage is {show('billed_credits')} credits.")
        elif row["overage_credits"] > 0:
            parts[0] += (f". It used {used} AI credits, {show('ai_credits', row['overage_credits'])} beyond its "
                         f"share ({share}), but the org as a whole used {figures.show('pool_use', org.get('pool_used'))}"
                         " of its pool, so no credits were billed: the team's overage is covered by teams under their "
                         "share.")
        else:
            parts[0] += f". It used {used} AI credits, within its share ({share})."
    else:
        parts[0] += (f" and {show('premium_cost')} of premium requests beyond the users' allowances "
                     f"({figures.show('requests', row['premium_billable_requests'])} billable of "
                     f"{figures.show('requests', row['premium_requests'])}).")
    if row["merged_prs"]:
        parts.append(f"That is {show('cost_per_merged_change')} per merged change ({show('merged_prs')} pull "
                     f"requests merged by its members) and {show('cost_per_active_developer')} per active developer.")
    else:
        parts.append("No pull request by its members was merged this month, so there is no cost per merged change.")
    return " ".join(parts)


COST_MEASURES = [  # (figure, cost-model column, org column)
    ("active_developers", "active_developers", "active_developers"), ("seat_months", "seat_months", "seat_months"),
    ("seat_cost", "seat_cost", "seat_cost"), ("ai_credits", "ai_credits", "ai_credits"),
    ("pool_share", "pool_share", "pool_credits"), ("billed_credits", "billed_credits", "overage_credits"),
    ("ai_credit_cost", "ai_credit_cost", "ai_credit_cost"), ("premium_cost", "premium_cost", "premium_cost"),
    ("spend", "total_cost", "total_cost"), ("cost_per_active_developer", "cost_per_active_developer", None),
    ("merged_prs", "merged_prs", "merged_prs"), ("cost_per_merged_change", "cost_per_merged_change",
                                                 "cost_per_merged_change"),
]


def cost_table(row: pd.Series, org: dict, params: OrgParams) -> pd.DataFrame:
    """Team against org, one row per cost measure, as text (figures of fewer than k people say so)."""
    k = params.privacy.k_anonymity
    org_devs = org.get("active_developers")
    org_values = {**org, "cost_per_active_developer": org["total_cost"] / org_devs if org_devs else None}
    rows = []
    for key, column, org_column in COST_MEASURES:
        team = (figures.show(key, None, people=1, k=k) if row["below_k"]
                else _show(key, row, params, row.get(column)))
        rows.append({"measure": figures.label(key), "team": team,
                     "whole org (each user once)": figures.show(key, org_values.get(org_column or column),
                                                                currency=params.currency)})
    rows.insert(6, {"measure": "AI credits in the billing API", "team": "n/a",
                    "whole org (each user once)": figures.show("ai_credits", org.get("billing_api_credits"))})
    return pd.DataFrame(rows)


def seatless_markdown(seatless: dict, params: OrgParams, team: str | None = None) -> str:
    """The flag for active users with no seat in this org (`seats.users_without_seat`), or '' when there are none."""
    n, credits = seatless["users"], seatless["ai_credits"]
    if not n:
        return ""
    k = params.privacy.k_anonymity
    who = f"of {team} " if team else ""
    count = figures.show("users_without_seat", n) if not figures.hidden(n, k) else f"fewer than {k}"
    used = figures.show("ai_credits", credits, people=n, k=k)
    return (f"**Flag: {count} active developer{'s' if n != 1 else ''} {who}had no seat in this org this month** "
            f"(billed through another org of the enterprise). Their AI credits ({used}) count in team burn, but "
            "they bring no seat-months to the included pool, so the pool looks smaller against the burn than the "
            "enterprise's bill does.")
