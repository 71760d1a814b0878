"""Altair charts for the reports, rendered as static SVG (vl-convert): no script or CDN needed to view them.

Every chart takes a small, already aggregated frame (altair refuses more than 5,000 rows).
"""
from __future__ import annotations

import altair as alt
import pandas as pd

TEAM_COLOUR = "#1f6feb"
ORG_COLOUR = "#8c959f"
PALETTE = ["#1f6feb", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#0969da", "#57606a"]


def use_svg() -> None:
    """Render charts as inline SVG: offline-safe, and papermill can save the notebook."""
    alt.renderers.enable("svg")


def team_vs_org_daily(team_daily: pd.DataFrame, org_daily: pd.DataFrame, measure: str, title: str,
                      team_label: str, per_developer: bool = True) -> alt.Chart:
    """Line chart of a daily measure, team against org; per active developer by default.

    Days suppressed for privacy (fewer than k users) are gaps in the team's line.
    """
    def per_dev(frame: pd.DataFrame, who: str) -> pd.DataFrame:
        value = frame[measure] / frame["active_users"].where(frame["active_users"] > 0) if per_developer else frame[measure]
        return pd.DataFrame({"day": pd.to_datetime(frame["day"]), "value": value, "who": who})

    data = pd.concat([per_dev(team_daily, team_label), per_dev(org_daily, "whole org")], ignore_index=True)
    y_title = f"{title} per active developer" if per_developer else title
    return (
        alt.Chart(data, title=y_title)
        .mark_line(point=alt.OverlayMarkDef(size=18), interpolate="monotone")
        .encode(
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%d %b")),
            y=alt.Y("value:Q", title=None),
            color=alt.Color("who:N", title=None, scale=alt.Scale(domain=[team_label, "whole org"],
                                                                  range=[TEAM_COLOUR, ORG_COLOUR]),
                            legend=alt.Legend(orient="top")),
            tooltip=["day:T", "who:N", alt.Tooltip("value:Q", format=",.1f")],
        )
        .properties(width=560, height=180)
    )


def daily_bars(frame: pd.DataFrame, measure: str, title: str, colour: str = TEAM_COLOUR) -> alt.Chart:
    data = pd.DataFrame({"day": pd.to_datetime(frame["day"]), "value": frame[measure]})
    return (
        alt.Chart(data, title=title)
        .mark_bar(color=colour)
        .encode(x=alt.X("day:T", title=None, axis=alt.Axis(format="%d %b")), y=alt.Y("value:Q", title=None),
                tooltip=["day:T", alt.Tooltip("value:Q", format=",.0f")])
        .properties(width=560, height=150)
    )


def breakdown_bars(frame: pd.DataFrame, by: str, measure: str, title: str) -> alt.Chart:
    data = frame[[by, measure]].dropna().rename(columns={by: "category", measure: "value"})
    return (
        alt.Chart(data, title=title)
        .mark_bar(color=TEAM_COLOUR)
        .encode(y=alt.Y("category:N", sort="-x", title=None), x=alt.X("value:Q", title=None),
                tooltip=["category:N", alt.Tooltip("value:Q", format=",.0f")])
        .properties(width=440, height=alt.Step(18))
    )
