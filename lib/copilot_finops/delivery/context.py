"""Cross-team context for a verdict: teams that adopted faster against teams that adopted slower.

A difference in differences over the same weeks: the window is cut into halves; each team's usage
rise is its verdict usage measure in the second half against the first; the teams above the median
rise are the faster adopters. For each delivery metric, the change between the halves averaged
over the faster adopters, minus the same over the slower ones, is what faster adoption went with
beyond what every team saw in those weeks (a CI change, the season). It is shown as context, never
as the verdict: teams differ in more than their adoption, and a handful of teams is a small sample.
Only teams with at least k developers and enough weeks of usage take part.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CONTEXT_METRICS = ("change_failure_rate", "cycle_time_hours", "lead_time_hours", "mttr_hours")
MIN_TEAMS = 4  # fewer teams than this and the two groups say nothing


def _half_value(half: pd.DataFrame, metric: str) -> float:
    if metric == "change_failure_rate":
        deployed = half["deployment_frequency"].sum()
        return float(half["failed_deployments"].sum() / deployed) if deployed > 0 else float("nan")
    values = half[metric].dropna()
    return float(values.median()) if len(values) else float("nan")


def team_changes(weekly: pd.DataFrame, usage_measure: str, metrics=CONTEXT_METRICS) -> dict:
    """One team's usage rise (second half of the window over the first, as a fraction) and each metric's change.

    `weekly` is the team's `usage.team_week_frame`. CFR is pooled over each half's deployments; the
    other metrics are the median of the half's weekly values. NaN where a half has no value.
    """
    half = len(weekly) // 2
    first, second = weekly.iloc[:half], weekly.iloc[len(weekly) - half:]
    before, after = first[usage_measure].mean(), second[usage_measure].mean()
    out = {"usage_rise": float(after / before - 1) if before and before == before and after == after else float("nan")}
    for m in metrics:
        out[m] = _half_value(second, m) - _half_value(first, m)
    return out


def adoption_contrast(frames: dict[str, pd.DataFrame], eligible: set[str], usage_measure: str,
                      metrics=CONTEXT_METRICS) -> pd.DataFrame:
    """Per eligible team: usage_rise, group ('faster' or 'slower' adopter) and the change of each metric.

    Empty when fewer than MIN_TEAMS eligible teams have a usage rise. Ties at the median go to 'slower'.
    """
    rows = [{"team_slug": team, **team_changes(frames[team], usage_measure, metrics)}
            for team in sorted(eligible) if team in frames]
    table = pd.DataFrame(rows, columns=["team_slug", "usage_rise", *metrics]).dropna(subset=["usage_rise"])
    if len(table) < MIN_TEAMS:
        return table.iloc[:0].assign(group=pd.Series(dtype=object))
    median = table["usage_rise"].median()
    table["group"] = np.where(table["usage_rise"] > median, "faster", "slower")
    return table.reset_index(drop=True)


def contrast_summary(table: pd.DataFrame, metrics=CONTEXT_METRICS) -> dict[str, dict]:
    """Per metric: mean change of the faster and of the slower adopters, and their difference (None if not defined)."""
    out = {}
    for m in metrics:
        faster = table.loc[table["group"] == "faster", m].dropna()
        slower = table.loc[table["group"] == "slower", m].dropna()
        f = float(faster.mean()) if len(faster) else None
        s = float(slower.mean()) if len(slower) else None
        out[m] = {"faster": f, "slower": s, "difference": None if f is None or s is None else f - s,
                  "teams_faster": int(len(faster)), "teams_slower": int(len(slower))}
    return out


def _change(metric: str, value: float) -> str:
    if metric == "change_failure_rate":
        return f"{value * 100:+.1f} points"
    return f"{value:+.1f} h"


def context_sentence(table: pd.DataFrame, team: str, labels: dict[str, str], metrics=CONTEXT_METRICS) -> str | None:
    """Cross-team context in words for one team, or None when there are too few teams to compare."""
    if table.empty:
        return None
    summary = contrast_summary(table, metrics)
    groups = table["group"].value_counts()
    parts = [f"{labels[m].split(' (')[0].lower()} {_change(m, s['faster'])} against {_change(m, s['slower'])}"
             for m, s in summary.items() if s["difference"] is not None]
    if not parts:
        return None
    mine = table[table["team_slug"] == team]
    position = ("" if mine.empty else
                f" This team's usage moved {mine.iloc[0]['usage_rise']:+.0%}, among the "
                f"{mine.iloc[0]['group']} adopters.")
    return (f"Across teams, as context and not as the verdict: between the first and second half of the window, "
            f"the {groups.get('faster', 0)} teams whose usage rose most changed by "
            + "; ".join(parts) + f" (against the other {groups.get('slower', 0)} teams)." + position)
