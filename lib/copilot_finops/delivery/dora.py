"""DORA performance tiers (elite, high, medium, low) of a team's delivery figures, as data.

The bands are the answer options of the DORA survey as the Accelerate State of DevOps Report 2023
describes its clusters: deployment frequency from "on demand (multiple deploys per day)" to "between
once per month and once every six months", lead time and time to restore from "less than one day" /
"less than one hour" up, change failure rate 5 / 10 / 15 %. The report's clusters are found in
survey answers, not cut at fixed lines, so a tier here places one figure on DORA's scale; it is
not the team's cluster membership. Each metric is placed on its own.
"""
from __future__ import annotations

from dataclasses import dataclass

TIERS = ("elite", "high", "medium", "low")
SOURCE = "DORA, Accelerate State of DevOps Report 2023 (performance clusters)"


@dataclass(frozen=True)
class Band:
    """One metric's tier boundaries: `limits[i]` is the boundary between TIERS[i] and TIERS[i + 1]."""

    metric: str
    unit: str
    higher_is_better: bool
    limits: tuple[float, float, float]
    described: tuple[str, str, str, str]


BANDS = {
    "deployment_frequency": Band(
        "deployment_frequency", "deployments per week", True, (7.0, 1.0, 12 / 52),
        ("on demand: about daily or more", "between once a day and once a week",
         "between once a week and once a month", "less than once a month")),
    "lead_time_hours": Band(
        "lead_time_hours", "hours", False, (24.0, 24.0 * 7, 24.0 * 30),
        ("less than one day", "between one day and one week", "between one week and one month",
         "more than one month")),
    "change_failure_rate": Band(
        "change_failure_rate", "share of deployments", False, (0.05, 0.10, 0.15),
        ("5 % or less", "up to 10 %", "up to 15 %", "over 15 %")),
    "mttr_hours": Band(
        "mttr_hours", "hours", False, (1.0, 24.0, 24.0 * 7),
        ("less than one hour", "less than one day", "between one day and one week", "more than one week")),
}


def tier(metric: str, value: float | None) -> str | None:
    """The DORA tier of one figure ('elite', 'high', 'medium' or 'low'); None when there is no figure.

    Boundaries belong to the better tier (a change failure rate of exactly 5 % is elite).
    """
    band = BANDS[metric]
    if value is None or value != value:
        return None
    for name, limit in zip(TIERS, band.limits):
        if (value >= limit) if band.higher_is_better else (value <= limit):
            return name
    return TIERS[-1]


def tiers(figures: dict) -> dict[str, dict]:
    """DORA tiers of a `metrics.period_metrics` dict: {metric: {value, unit, tier, band}} for the four keys.

    `band` describes the tier in DORA's words ('between one day and one week'); tier and band are
    None for a figure the period does not have (no deployment, no closed incident).
    """
    out = {}
    for metric, band in BANDS.items():
        value = figures.get(metric)
        name = tier(metric, value)
        out[metric] = {"value": value, "unit": band.unit, "tier": name,
                       "band": None if name is None else band.described[TIERS.index(name)]}
    return out
