"""Altair charts for the reports: static SVG for print and for browsers without scripts, plus the Vega-Lite spec
that the HTML page draws live (tooltips, zoom) from a local copy of Vega.

Every chart takes a small, already aggregated frame (altair refuses more than 5,000 rows). The look is set
once here: widths that fill the report column, units in axis titles, one colour per meaning on every page.
"""
from __future__ import annotations

import warnings

import altair as alt
import pandas as pd

# Charts stacked on one time axis share their zoom: altair merges their identical `zoom` params, and says so each time
warnings.filterwarnings("ignore", message="Automatically deduplicated selection parameter", category=UserWarning)

# the output that carries a chart's spec next to its SVG; a JSON mimetype (+json), so nbformat stores it as JSON
SPEC_MIMETYPE = "application/vnd.vegalite.v6+json"

FULL_WIDTH = 980  # plot width of a chart that fills the report column (axes and legend come on top)
HALF_WIDTH = 340  # each of two charts side by side

# one colour per meaning, on every page
TEAM_COLOUR = "#1f6feb"  # this team
ORG_COLOUR = "#8c959f"  # the comparison: the whole org, the team's peers, last month
BAND_COLOUR = "#d0d7de"  # a range: peers' middle half
FORECAST_COLOUR = TEAM_COLOUR  # the forecast is the team's, drawn dashed with its interval shaded
THRESHOLD_COLOUR = "#cf222e"  # budget thresholds and the budget itself
DELIVERY_COLOUR = "#bf3989"  # delivery metrics (cycle time, failures, restores)
ADOPTION_COLOUR = "#1a7f37"  # adoption: share of seat holders active
NOTE_COLOUR = "#59636e"  # text labels on marks
PALETTE = ["#1f6feb", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#0969da", "#57606a"]  # categories

FONT = "Helvetica, Arial, sans-serif"


def _theme() -> dict:
    axis = {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": "normal", "titleColor": NOTE_COLOUR,
            "labelColor": "#1f2328", "labelOverlap": "greedy", "labelSeparation": 6}
    return {"config": {
        "font": FONT, "view": {"stroke": None, "continuousWidth": FULL_WIDTH, "continuousHeight": 200},
        "axis": axis, "axisX": {"tickCount": 8}, "axisY": {"tickCount": 6},
        "legend": {"orient": "top", "labelFontSize": 11, "titleFontSize": 11, "symbolSize": 80, "labelLimit": 320},
        "title": {"anchor": "start", "fontSize": 13, "fontWeight": 600, "offset": 8},
        "line": {"interpolate": "linear"}, "concat": {"spacing": 28}}}


alt.theme.register("copilot_finops", enable=False)(_theme)


def _svg_and_spec(spec: dict, **metadata) -> dict:
    """The chart as SVG (what prints, and what shows without scripts) and as its spec, for the live chart."""
    from altair.vegalite.v6.display import svg_renderer

    return {**svg_renderer(spec, **metadata), SPEC_MIMETYPE: spec}


alt.renderers.register("copilot_finops", _svg_and_spec)


def use_svg() -> None:
    """Render charts as inline SVG with their spec beside it: offline-safe, and papermill can save the notebook
    (altair's own `mimetype` output is not valid nbformat JSON, and its default renderer loads from a CDN)."""
    alt.renderers.enable("copilot_finops")
    alt.theme.enable("copilot_finops")


class NoChart:
    """What a chart function returns when it has nothing of the team's to draw (all of it suppressed, or no data):
    it displays as nothing, so the page keeps its one written notice instead of an empty chart. Combined with
    `&` or `|` it gives the other chart."""

    def _ipython_display_(self) -> None:
        return None

    def __and__(self, other):
        return other

    __or__ = __rand__ = __ror__ = __and__

    def __bool__(self) -> bool:
        return False


def zoomable(chart, encodings: tuple[str, ...] = ("x",)):
    """Drag to pan and wheel to zoom along `encodings` in the live chart (the SVG is unaffected)."""
    return chart.add_params(alt.selection_interval(bind="scales", encodings=list(encodings), name="zoom"))


def day_axis(title: str = "day") -> alt.X:
    return alt.X("day:T", title=title, axis=alt.Axis(format="%d %b", labelAngle=0,
                                                      tickCount={"interval": "week", "step": 1}))


def notice(text: str, width: int = FULL_WIDTH) -> alt.Chart:
    """A chart-sized sentence instead of an empty chart."""
    return (alt.Chart(pd.DataFrame({"text": [text]})).mark_text(align="left", baseline="middle", fontSize=13,
                                                                  color=NOTE_COLOUR)
            .encode(text="text:N", x=alt.value(0)).properties(width=width, height=24))


def team_vs_org_daily(team_daily: pd.DataFrame, org_daily: pd.DataFrame, measure: str, title: str,
                      team_label: str, per_developer: bool = True, unit: str | None = None) -> alt.Chart:
    """Line chart of a daily measure, team against org; per active developer by default.

    Days suppressed for privacy (fewer than k active developers, in the team or in the whole org) are gaps,
    and neither line is smoothed. `unit` names the measure's unit on the y axis (default: the title, lower-case).
    Nothing is drawn (`NoChart`) when every day of the team is suppressed: the page says so once.
    """
    def per_dev(frame: pd.DataFrame, who: str) -> pd.DataFrame:
        active = frame["active_users"].where(frame["active_users"] > 0)
        value = frame[measure] / active if per_developer else frame[measure]
        return pd.DataFrame({"day": pd.to_datetime(frame["day"]), "value": value, "who": who})

    data = pd.concat([per_dev(team_daily, team_label), per_dev(org_daily, "whole org")], ignore_index=True)
    drawn = [who for who in (team_label, "whole org") if data.loc[data["who"] == who, "value"].notna().any()]
    if team_label not in drawn:
        return NoChart()
    unit = unit or title.lower()
    y_title = f"{unit} per active developer" if per_developer else unit
    chart = (
        alt.Chart(data, title=f"{title} per active developer, per day" if per_developer else f"{title}, per day")
        .mark_line(point=alt.OverlayMarkDef(size=22))
        .encode(
            x=day_axis(),
            y=alt.Y("value:Q", title=y_title),
            color=alt.Color("who:N", title=None, scale=alt.Scale(domain=drawn, range=[
                TEAM_COLOUR if who == team_label else ORG_COLOUR for who in drawn])),
            tooltip=[alt.Tooltip("day:T", format="%a %d %b"), alt.Tooltip("who:N", title="line"),
                     alt.Tooltip("value:Q", title=y_title, format=",.1f")],
        )
        .properties(width=FULL_WIDTH, height=140)
    )
    return zoomable(chart)


def daily_bars(frame: pd.DataFrame, measure: str, title: str, colour: str = TEAM_COLOUR,
               unit: str = "developers") -> alt.Chart:
    """Bars of a daily count (suppressed days are left out; nothing drawn when all are)."""
    data = pd.DataFrame({"day": pd.to_datetime(frame["day"]), "value": frame[measure]}).dropna()
    if not (data["value"] > 0).any():
        return NoChart()
    return zoomable(
        alt.Chart(data, title=title)
        .mark_bar(color=colour, width={"band": 0.7})
        .encode(x=day_axis(), y=alt.Y("value:Q", title=unit, scale=alt.Scale(nice=True)),
                tooltip=[alt.Tooltip("day:T", format="%a %d %b"), alt.Tooltip("value:Q", title=unit, format=",.0f")])
        .properties(width=FULL_WIDTH, height=90)
    )


def breakdown_bars(frame: pd.DataFrame, by: str, measure: str, title: str, unit: str = "outputs generated",
                   width: int = HALF_WIDTH) -> alt.Chart:
    """Horizontal bars of a measure per category, largest first (nothing drawn when no category is shown)."""
    data = frame[[by, measure]].dropna().rename(columns={by: "category", measure: "value"})
    if data.empty:
        return NoChart()
    return (
        alt.Chart(data, title=title)
        .mark_bar(color=TEAM_COLOUR)
        .encode(y=alt.Y("category:N", sort="-x", title=None, axis=alt.Axis(labelLimit=180)),
                x=alt.X("value:Q", title=unit, axis=alt.Axis(format="~s")),
                tooltip=[alt.Tooltip("category:N", title=by), alt.Tooltip("value:Q", title=unit, format=",.0f")])
        .properties(width=width, height=alt.Step(20))
    )
