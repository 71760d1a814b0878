"""Charts of the delivery report: weekly usage stacked above each delivery metric, on one time axis.

Each panel is its own small line chart (no second y-axis to misread); weeks without a value
(suppressed usage, no deployments, no incident) are gaps. Frames are a team's weeks: small.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from .. import charts
from . import metrics, stats, usage as delivery_usage, verdict
from .report import TeamDelivery

DELIVERY_COLOUR = "#bf3989"


def _panel(weeks: pd.Series, values: pd.Series, title: str, colour: str, fmt: str) -> alt.Chart:
    data = pd.DataFrame({"week": pd.to_datetime(weeks), "value": values.astype("float64")})
    return (
        alt.Chart(data, title=alt.TitleParams(title, anchor="start", fontSize=12))
        .mark_line(color=colour, point=alt.OverlayMarkDef(color=colour, size=22))
        .encode(x=alt.X("week:T", title=None, axis=alt.Axis(format="%d %b")),
                y=alt.Y("value:Q", title=None, axis=alt.Axis(format=fmt)),
                tooltip=[alt.Tooltip("week:T", title="week of"), alt.Tooltip("value:Q", format=fmt)])
        .properties(width=560, height=110)
    )


def _same_week_rho(td: TeamDelivery, metric: str) -> str:
    c = td.correlations
    rows = stats.records(c[(c["usage_measure"] == delivery_usage.VERDICT_USAGE) & (c["delivery_metric"] == metric)
                           & (c["lag_weeks"] == 0)])
    if not rows or rows[0]["spearman"] is None:
        return "no rho: " + ((rows[0]["note"] if rows else None) or "too few weeks")
    r = rows[0]
    text = f"same-week rho with usage {r['spearman']:+.2f}"
    if r["detrended"] is not None:
        text += f", trends removed {r['detrended']:+.2f}"
        if r["detrended_ci_low"] is not None:
            text += f" [{r['detrended_ci_low']:+.2f}, {r['detrended_ci_high']:+.2f}]"
    return text


def usage_against_delivery(td: TeamDelivery) -> alt.VConcatChart | alt.Chart:
    """The verdict's usage measure per week, then each delivery metric per week, with their same-week rho."""
    if td.suppressed:
        note = pd.DataFrame({"text": [f"Weekly figures suppressed: fewer than {td.metrics.get('k')} developers."]})
        return alt.Chart(note).mark_text(align="left", fontSize=13).encode(text="text:N").properties(width=560, height=30)
    weekly = td.weekly
    usage_label = delivery_usage.USAGE_LABELS[delivery_usage.VERDICT_USAGE]
    panels = [_panel(weekly["week_start"], weekly[delivery_usage.VERDICT_USAGE], f"{usage_label} (usage)",
                     charts.TEAM_COLOUR, ",.0f")]
    for metric in metrics.WEEKLY_METRICS:
        fmt = ".0%" if metric == "change_failure_rate" else ",.1f"
        title = f"{verdict.METRIC_LABELS[metric]}: {_same_week_rho(td, metric)}"
        panels.append(_panel(weekly["week_start"], weekly[metric], title, DELIVERY_COLOUR, fmt))
    return alt.vconcat(*panels, spacing=14).resolve_scale(x="shared")
