"""The org overview as text and charts (notebook 00): every figure through `figures.show`, every group under k
suppressed. The figures themselves are collected and aligned by `overview`."""
from __future__ import annotations

import altair as alt
import pandas as pd

from . import budget, charts, privacy
from .figures import show
from .overview import OrgMonth


def team_display(teams: pd.DataFrame, k: int, currency: str = "USD") -> pd.DataFrame:
    """team_table as a compact text table for the page (every figure through `figures.show`): suppressed cells
    say so, absent modules drop their columns. Flagged weeks and their credits need k flagged developers."""
    hidden = privacy.suppressed_label(k)
    rows = teams.to_dict("records")
    out = pd.DataFrame({"team": teams["team_slug"], "segment": teams["segment"],  # an id: ctx.table writes its label
                        "developers": [hidden if r["suppressed"] else
                                       f"{show('members', r['members'])} ({show('active_developers', r['active_developers'])} active)"
                                       for r in rows]})
    if "total_cost" in teams:
        out["spend"] = [hidden if r["suppressed"] else show("spend", r["total_cost"], currency=currency) for r in rows]
    if "pct_forecast" in teams:
        out["budget"] = teams["budget"]
        header = f"used / {budget.month_end_header(teams.get('forecast_basis', pd.Series(['forecast'])))}"
        out[header] = [hidden if r["suppressed"] else
                                  f"{show('budget_use', r['pct_to_date'])} / {show('budget_forecast_use', r['pct_forecast'])}"
                                  for r in rows]
        out["stage"] = teams["stage_label"].fillna("no budget")
    if "flagged_weeks" in teams:
        out["flagged weeks (credits)"] = [
            hidden if r["suppressed"] else "0" if not r["flagged_weeks"] else
            show("flagged_weeks", r["flagged_weeks"], people=r["flagged_developers"], k=k)
            + ("" if privacy.small_group(r["flagged_developers"], k) else f" ({show('flagged_credits', r['flagged_credits'])})")
            for r in rows]
    if "verdict" in teams:
        out["delivery verdict"] = teams["verdict"].fillna("n/a").str.replace("_", " ")
    return out.reset_index(drop=True)


def segment_display(segments: pd.DataFrame, k: int, currency: str = "USD") -> pd.DataFrame:
    """`segment_table` as text (through `figures.show`): suppressed rows say so; flagged weeks need k developers."""
    hidden = privacy.suppressed_label(k)
    rows = segments.to_dict("records")

    def cell(key, column, r, **kw):
        return hidden if r["suppressed"] else show(key, r.get(column), currency=currency, **kw)

    out = pd.DataFrame({"segment": segments["segment"], "teams": segments["teams"],  # ids: ctx.table writes labels
                        "members": [cell("members", "members", r) for r in rows],
                        "active developers": [cell("active_developers", "active_developers", r) for r in rows],
                        "spend": [cell("spend", "total_cost", r) for r in rows],
                        "AI credits": [cell("ai_credits", "ai_credits", r) for r in rows]})
    if "flagged_weeks" in segments:
        out["flagged weeks"] = [cell("flagged_weeks", "flagged_weeks", r, people=r.get("flagged_developers"), k=k)
                                if r.get("flagged_weeks") else cell("flagged_weeks", "flagged_weeks", r) for r in rows]
    if "pct_forecast" in segments:
        out["segment budget forecast"] = [cell("budget_forecast_use", "pct_forecast", r) for r in rows]
        out["segment stage"] = segments["stage_label"]
    return out


def pattern_overview(flagged: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per pattern across the org, as text: flagged developer-weeks, developers, AI credits, each suppressed when
    fewer than k developers are behind them (then the weeks too: a count of a few people's weeks)."""
    columns = ["pattern", "flagged weeks", "developers", "AI credits"]
    if flagged.empty:
        return pd.DataFrame(columns=columns)
    per = flagged.groupby("pattern_title").agg(weeks=("week_start", "size"), developers=("user", "nunique"),
                                               credits=("credits", "sum")).reset_index()
    total = pd.DataFrame([{"pattern_title": "all patterns", "weeks": len(flagged), "developers": flagged["user"].nunique(),
                           "credits": flagged["credits"].sum()}])
    frame = pd.concat([per.sort_values("credits", ascending=False), total], ignore_index=True)
    return pd.DataFrame({"pattern": frame["pattern_title"],
                         **{label: [show(key, r[column], people=r["developers"], k=k) for r in frame.to_dict("records")]
                            for label, key, column in (("flagged weeks", "flagged_weeks", "weeks"),
                                                       ("developers", "flagged_developers", "developers"),
                                                       ("AI credits", "flagged_credits", "credits"))}})


def budget_chart(teams: pd.DataFrame, thresholds: list[float], k: int) -> alt.Chart:
    """Per team: share of the budget spent to date and forecast for the month, against the guardrail thresholds.

    Shares, not amounts, because teams budget in USD or in AI credits; suppressed teams are labelled.
    """
    data = teams[["team_slug", "pct_to_date", "pct_forecast", "suppressed"]].copy()
    data["label"] = [privacy.suppressed_label(k) if s else "" for s in data["suppressed"]]
    data = data.fillna({"pct_to_date": 0.0, "pct_forecast": 0.0})
    top = max(1.05, float(data["pct_forecast"].max()) * 1.05, float(data["pct_to_date"].max()) * 1.05)
    x = alt.X("pct_forecast:Q", title="share of the team's monthly budget", scale=alt.Scale(domain=[0, top], nice=False),
              axis=alt.Axis(format="%"))
    base = alt.Chart(data).encode(y=alt.Y("team_slug:N", title=None, sort=None, axis=alt.Axis(labelLimit=200)))
    tips = [alt.Tooltip("team_slug:N", title="team"), alt.Tooltip("pct_to_date:Q", title="used to date", format=".0%"),
            alt.Tooltip("pct_forecast:Q", title="forecast for the month", format=".0%")]
    forecast = base.mark_bar(color=charts.TEAM_COLOUR, opacity=0.35).encode(x=x, tooltip=tips)
    burn = base.mark_bar(color=charts.TEAM_COLOUR, height=8).encode(x="pct_to_date:Q", tooltip=tips)
    note = base.mark_text(align="left", dx=4, color=charts.NOTE_COLOUR).encode(x=alt.value(2), text="label:N")
    rules = alt.Chart(pd.DataFrame({"threshold": thresholds + [1.0]})).mark_rule(
        color=charts.THRESHOLD_COLOUR, strokeDash=[3, 3]).encode(x="threshold:Q")
    return (forecast + burn + note + rules).properties(
        title=alt.TitleParams("Budget used by each team", subtitle="dark: to date; light: forecast for the month's end; "
                              "red: the guardrail thresholds and the budget"), width=charts.FULL_WIDTH - 200,
        height=alt.Step(22))


STATE_COLOURS = {"active": charts.ADOPTION_COLOUR, "inactive": charts.BAND_COLOUR, "not shown": "#eaeef2"}


def cohort_chart(cohorts: pd.DataFrame, k: int):
    """Seat holders of each cohort, active this month or not, with the share active written at the bar's end."""
    data = cohorts[["cohort", "developers", "active"]].copy()
    data["inactive"] = data["developers"] - data["active"]
    data["label"] = [f"{show('share_active', a / d)} active" if a == a and d else privacy.suppressed_label(k)
                     for a, d in zip(data["active"], data["developers"])]
    if data["developers"].dropna().empty:
        return charts.NoChart()
    rows = []
    for r in data.to_dict("records"):
        parts = ([("active", r["active"]), ("inactive", r["inactive"])] if r["active"] == r["active"]
                 else [("not shown", r["developers"])])
        rows += [{"cohort": r["cohort"], "state": state, "seat holders": n} for state, n in parts]
    long = pd.DataFrame(rows)
    y = alt.Y("cohort:N", title="seat started", sort=None)
    bars = alt.Chart(long).mark_bar().encode(
        y=y, x=alt.X("seat holders:Q", title="seat holders", stack=True,
                 scale=alt.Scale(domain=[0, float(data["developers"].max()) * 1.25], nice=False)),
        color=alt.Color("state:N", title=None, scale=alt.Scale(
            domain=[s for s in STATE_COLOURS if s in set(long["state"])],
            range=[c for s, c in STATE_COLOURS.items() if s in set(long["state"])])),
        order=alt.Order("state:N"),
        tooltip=["cohort:N", "state:N", alt.Tooltip("seat holders:Q", format=",.0f")])
    text = alt.Chart(data.assign(end=data["developers"])).mark_text(align="left", dx=6, color=charts.NOTE_COLOUR).encode(
        y=y, x="end:Q", text="label:N")
    return (bars + text).properties(title="Seat holders by when their seat started, active this month or not",
                                    width=charts.FULL_WIDTH - 300, height=alt.Step(26))


def headline_markdown(month: OrgMonth, figures: pd.DataFrame, segments: pd.DataFrame, currency: str = "USD") -> str:
    """The overview's opening paragraph, built from the figures it quotes (the last row of `segments`: every
    team, or the teams with k or more developers, each person once)."""
    small = int(figures["small"].sum())
    total = segments.iloc[-1]
    parts = [f"**{month.period.label}: {len(figures)} teams**"
             + (f" ({small} with fewer than {month.k} developers, whose figures are not shown)." if small else ".")]
    if "total_cost" in total and total["total_cost"] == total["total_cost"]:
        parts.append(f"Spend of {total['segment']}, each person counted once: "
                     f"{show('spend', total['total_cost'], currency=currency)} for {show('members', total['members'])} "
                     f"members, {show('active_developers', total['active_developers'])} of them active.")
    if "stage_label" in figures:
        staged = figures[figures["stage_status"].isin(["reached", "forecast"])]
        parts.append(f"{len(staged)} team{'s' if len(staged) != 1 else ''} at a guardrail stage"
                     + (f" ({', '.join(f'{t}: {s}' for t, s in zip(staged['team_slug'], staged['stage_label']))})."
                        if len(staged) else "."))
    if "verdict" in figures:
        counts = figures["verdict"].value_counts()
        parts.append("Delivery verdicts: " + ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in counts.items()) + ".")
    return " ".join(parts)
