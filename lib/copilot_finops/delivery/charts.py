"""Charts of the delivery report: weekly usage stacked above each delivery metric, on one time axis.

Each panel is its own small line chart (no second y-axis to misread), the full width of the page, its unit
on the y axis; weeks without a value (suppressed usage, no deployments, no incident) are gaps. Usage is
drawn in the team's colour, delivery in the delivery colour, as on every page. Frames are a team's weeks: small.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from .. import charts
from . import metrics, stats, usage as delivery_usage, verdict
from .report import TeamDelivery

DELIVERY_COLOUR = charts.DELIVERY_COLOUR
METRIC_UNITS = {  # y axis titles: the unit of each weekly figure
    "cycle_time_hours": "hours",
    "lead_time_hours": "hours",
    "review_turnaround_hours": "hours",
    "deployment_frequency": "deployments",
    "change_failure_rate": "of deployments",
    "mttr_hours": "hours",
}
USAGE_UNIT = "outputs"


def _panel(weeks: pd.Series, values: pd.Series, title: str, colour: str, fmt: str, unit: str,
           last: bool = False) -> alt.Chart:
    """One metric's weekly line; only the last panel labels the shared time axis."""
    data = pd.DataFrame({"week": pd.to_datetime(weeks), "value": values.astype("float64")})
    top = float(data["value"].max()) * 1.15 if data["value"].notna().any() and data["value"].max() > 0 else 1.0
    axis = (alt.Axis(format="%d %b", labelAngle=0) if last else
            alt.Axis(format="%d %b", labels=False, ticks=False, title=None, domain=True))
    return charts.zoomable(
        alt.Chart(data, title=alt.TitleParams(title, anchor="start", fontSize=12))
        .mark_line(color=colour, point=alt.OverlayMarkDef(color=colour, size=26))
        .encode(x=alt.X("week:T", title="week starting" if last else None, axis=axis),
                y=alt.Y("value:Q", title=unit, axis=alt.Axis(format=fmt, tickCount=4),
                        scale=alt.Scale(domain=[0, top], nice=True)),
                tooltip=[alt.Tooltip("week:T", title="week of", format="%d %b %Y"),
                         alt.Tooltip("value:Q", title=unit, format=fmt)])
        .properties(width=charts.FULL_WIDTH, height=60)
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


def usage_against_delivery(td: TeamDelivery):
    """The verdict's usage measure per week, then each delivery metric per week, with their same-week rho.

    A team whose weekly figures are suppressed gets no chart (`charts.NoChart`): its verdict says why.
    """
    if td.suppressed:
        return charts.NoChart()
    weekly = td.weekly
    usage_label = delivery_usage.USAGE_LABELS[delivery_usage.VERDICT_USAGE]
    panels = [_panel(weekly["week_start"], weekly[delivery_usage.VERDICT_USAGE], f"{usage_label} (usage)",
                     charts.TEAM_COLOUR, ",.0f", USAGE_UNIT)]
    for metric in metrics.WEEKLY_METRICS:
        fmt = ".0%" if metric == "change_failure_rate" else ",.0f"
        title = f"{verdict.METRIC_LABELS[metric]}: {_same_week_rho(td, metric)}"
        panels.append(_panel(weekly["week_start"], weekly[metric], title, DELIVERY_COLOUR, fmt, METRIC_UNITS[metric],
                             last=metric == metrics.WEEKLY_METRICS[-1]))
    return alt.vconcat(*panels, spacing=10).resolve_scale(x="shared")
