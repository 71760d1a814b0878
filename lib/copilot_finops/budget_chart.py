"""The burn-up chart of a budget (page 03): cumulative burn against the budget, the forecast with its interval
band while the month is open, and the guardrail thresholds, labelled where no two labels overlap. The figures
come from `budget.evaluate_guardrails`."""
from __future__ import annotations

import pandas as pd

from . import formatting
from .budget import UNIT_LABEL, GuardrailReport, scope_name
from .params import OrgParams


def _level_labels(levels: list[tuple[float, str]], top: float, height: float, min_gap: float = 14.0) -> pd.DataFrame:
    """Where each threshold's label goes so that no two overlap: on the left, else on the right, else joined to
    the label it would overlap. levels : (amount, label); top : the y axis' upper end; height : plot pixels."""
    placed: list[dict] = []
    last = {"left": None, "right": None}
    for level, label in sorted(levels):
        y = level / top * height
        side = next((s for s in ("left", "right") if last[s] is None or y - last[s]["y"] >= min_gap), None)
        if side is None:
            last["right"]["label"] += f" · {label}"
            continue
        last[side] = {"level": level, "label": label, "side": side, "y": y}
        placed.append(last[side])
    return pd.DataFrame(placed, columns=["level", "label", "side", "y"])


def burnup_chart(report: GuardrailReport, scope: str, name: str, params: OrgParams):
    """Cumulative burn against the budget: actual to the as-of day, the forecast with its interval band after
    it (none once the month is closed), and a rule at each threshold, labelled where labels cannot collide."""
    import altair as alt

    from . import charts

    data = report.paths[(report.paths["scope"] == scope) & (report.paths["name"] == name)].copy()
    data["day"] = pd.to_datetime(data["day"])
    budget_amount = float(data["budget"].iloc[0])
    unit = UNIT_LABEL[data["unit"].iloc[0]] if data["unit"].iloc[0] != "usd" else params.currency
    future = data[data["actual"].isna() | (data["day"] == pd.Timestamp(report.as_of))]
    closed = future["expected"].isna().all() or len(future) <= 1
    height = 210
    top = 1.06 * max(budget_amount, float(data[["actual", "expected", "high"]].max().max()))
    y = alt.Y("amount:Q", title=f"cumulative burn ({unit})", scale=alt.Scale(domain=[0, top], nice=False),
              axis=alt.Axis(format=",.0f"))
    actual = alt.Chart(data.dropna(subset=["actual"]).rename(columns={"actual": "amount"})).mark_line(
        color=charts.TEAM_COLOUR, strokeWidth=2.5, point=alt.OverlayMarkDef(size=14, color=charts.TEAM_COLOUR)).encode(
        x=charts.day_axis(), y=y, tooltip=[alt.Tooltip("day:T", format="%a %d %b"),
                                          alt.Tooltip("amount:Q", title=f"burn to date ({unit})", format=",.0f")])
    layers = [actual]
    guessed = data[data["estimated"].fillna(False).astype(bool)].dropna(subset=["actual"])
    if len(guessed):  # days with no usage report: their burn is estimated, drawn as hollow points
        layers.append(alt.Chart(guessed.rename(columns={"actual": "amount"})).mark_point(
            shape="circle", filled=True, fill="white", size=42, stroke=charts.FORECAST_COLOUR, strokeWidth=2).encode(
            x=charts.day_axis(), y=y, tooltip=[alt.Tooltip("day:T", format="%a %d %b"),
                                              alt.Tooltip("amount:Q", title=f"estimated burn ({unit})", format=",.0f")]))
    if not closed:
        band = alt.Chart(future).mark_area(color=charts.FORECAST_COLOUR, opacity=0.15).encode(
            x=charts.day_axis(), y=alt.Y("low:Q", scale=alt.Scale(domain=[0, top], nice=False)), y2="high:Q",
            tooltip=[alt.Tooltip("day:T", format="%a %d %b"), alt.Tooltip("low:Q", title="interval from", format=",.0f"),
                     alt.Tooltip("high:Q", title="to", format=",.0f")])
        expected = alt.Chart(future.rename(columns={"expected": "amount"})).mark_line(
            color=charts.FORECAST_COLOUR, strokeDash=[5, 4]).encode(
            x=charts.day_axis(), y=y, tooltip=[alt.Tooltip("day:T", format="%a %d %b"),
                                              alt.Tooltip("amount:Q", title=f"forecast ({unit})", format=",.0f")])
        layers = [band, expected, *layers]
    levels = _level_labels([(t * budget_amount, formatting.percent(t)) for t in params.guardrails.thresholds]
                           + [(budget_amount, "budget")], top, height)
    rules = alt.Chart(levels).mark_rule(color=charts.THRESHOLD_COLOUR, strokeDash=[3, 3], opacity=0.8).encode(
        y=alt.Y("level:Q", scale=alt.Scale(domain=[0, top], nice=False)))
    for side, align, x in (("left", "left", 4), ("right", "right", charts.FULL_WIDTH - 4)):
        layers.append(alt.Chart(levels[levels["side"] == side]).mark_text(
            align=align, baseline="bottom", dy=-3, color=charts.THRESHOLD_COLOUR, fontSize=11).encode(
            y="level:Q", text="label:N", x=alt.value(x)))
    what = ("month closed: the line is the actual burn" if closed else
            f"dashed: forecast to month end, shaded: its {params.guardrails.interval:.0%} interval")
    if len(guessed):
        what += f"; hollow points: {formatting.plural(len(guessed), 'day')} with no usage report, estimated"
    chart = alt.layer(rules, *layers).properties(
        title=alt.TitleParams(f"{scope_name(scope, name, params)}: burn against the budget", subtitle=what),
        width=charts.FULL_WIDTH, height=height)
    return charts.zoomable(chart)
