"""Usage against delivery, per team: the figures, the correlations and the verdict, as data and as text.

`prepare` reads the window once for the whole org (delivery events are attributed across
teams together); `team_delivery` then builds one team's analysis; `delivery_report` is the
JSON document the `delivery` command prints. The notebook calls the same functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from .. import cache, figures, gaps, usage
from ..params import OrgParams
from ..period import Period
from . import metrics, stats, usage as delivery_usage, verdict

PERIOD_USAGE_FIELDS = ("active_developers", "prompts_per_active_developer", "requests_per_active_developer",
                       "accepted_output_ratio", "ai_credits_used")


@dataclass
class DeliveryWindow:
    """What every team's analysis shares: the period, the weeks of the window, the attributed events."""

    period: Period
    weeks: list[date]
    events: metrics.DeliveryEvents
    week_usage: pd.DataFrame
    active_weeks: pd.DataFrame
    k: int


@dataclass
class TeamDelivery:
    """One team's delivery analysis; `to_json` is its entry in the command's output."""

    team: str
    period: Period
    weekly: pd.DataFrame
    correlations: pd.DataFrame
    usage_trend: dict
    tiers: pd.DataFrame
    metrics: dict
    decision: dict
    weeks: int
    developers: int
    suppressed: bool

    @property
    def verdict(self) -> str:
        return self.decision["verdict"]

    def to_json(self) -> dict:
        records = self.correlations.astype(object).where(self.correlations.notna(), None).to_dict("records")
        return {
            "team": self.team, "verdict": self.verdict, "reason": self.decision["reason"],
            "evidence": list(self.decision["evidence"]), "weeks": self.weeks,
            # the head count of a team under k is itself a figure about a handful of people
            "developers": None if self.suppressed else self.developers,
            "usage_measure": delivery_usage.VERDICT_USAGE, "usage_trend": self.usage_trend,
            "confidence": stats.CONFIDENCE,
            "correlations": [{**r, "lag_weeks": int(r["lag_weeks"]), "n": int(r["n"])} for r in records],
            "adoption_tiers": self.tiers.astype(object).where(self.tiers.notna(), None).to_dict("records"),
            "metrics": self.metrics, "suppressed": self.suppressed, "caveat": verdict.CAVEAT,
        }


@cache.memoised("delivery-window")
def prepare(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> DeliveryWindow:
    """Read the correlation window (up to 26 weeks ending with the period) and attribute its events.

    Org-wide and the same for every team's report of the period, so it is memoised beside the warehouse.
    """
    weeks = delivery_usage.analysis_weeks(con, period)
    start = weeks[0] if weeks else period.start
    inputs = metrics.load_delivery_inputs(con, start, period.end)
    events = metrics.delivery_events(inputs, params.incident_label)
    active = delivery_usage.active_user_weeks(con, inputs.pulls["author_id"], weeks)
    week_usage = delivery_usage.read_week_usage(con, weeks)
    return DeliveryWindow(period, weeks, events, week_usage, active, params.privacy.k_anonymity)


def _period_usage(con, team: str, period: Period, k: int) -> dict:
    summary = usage.team_period_summary(con, team, period, k)
    team = summary["team"]  # full precision (figures.json_value), so a reader's rounding matches the pages'
    return {f: figures.json_value(usage.SUMMARY_FIGURES.get(f, f), team[f], k=k,
                                  people=figures.people_of(usage.SUMMARY_FIGURES.get(f, f), team)) for f in PERIOD_USAGE_FIELDS}


def team_delivery(con: duckdb.DuckDBPyConnection, window: DeliveryWindow, team: str) -> TeamDelivery:
    """Weekly figures, correlations with lags 0-2, adoption tiers, period figures and the verdict of one team."""
    weekly = delivery_usage.team_week_frame(window.week_usage, window.events, team, window.weeks, window.k,
                                            window.active_weeks)
    developers = delivery_usage.window_developers(con, team, window.weeks[0] if window.weeks else window.period.start,
                                                  window.period.end)
    suppressed = developers < window.k
    measure = delivery_usage.VERDICT_USAGE
    weeks_with_usage = int(weekly[measure].notna().sum())
    if suppressed:
        # A team under k: its weekly delivery figures would describe a handful of people.
        weekly[list(metrics.WEEKLY_METRICS)] = float("nan")
    correlations = stats.lagged_correlations(weekly, delivery_usage.USAGE_MEASURES, metrics.WEEKLY_METRICS)
    trend = stats.trend(weekly[measure])
    same_week = {r.delivery_metric: {"spearman": r.spearman, "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n}
                 for r in correlations[(correlations["usage_measure"] == measure) & (correlations["lag_weeks"] == 0)].itertuples()}
    label = delivery_usage.USAGE_LABELS[measure].lower()
    decision = verdict.decide(weeks_with_usage, developers, trend, same_week, usage_label=label)
    tiers = stats.adoption_tiers(weekly, metrics.WEEKLY_METRICS)
    if suppressed:
        month = {"suppressed": True, "k": window.k}
    else:
        month = {**metrics.period_metrics(window.events, team, window.period.start, window.period.end),
                 "usage": _period_usage(con, team, window.period, window.k)}
        if decision["verdict"] != "insufficient_data":
            decision["evidence"] += _context_evidence(window.period, month, correlations, tiers, measure)
    return TeamDelivery(team, window.period, weekly, correlations, trend, tiers, month, decision,
                        weeks_with_usage, developers, suppressed)


def _context_evidence(period, metrics: dict, correlations: pd.DataFrame, tiers: pd.DataFrame, measure: str) -> list[str]:
    out = []
    lag = verdict.lag_sentence(correlations, "change_failure_rate", measure)
    if lag:
        out.append(lag)
    cfr, cycle = metrics["change_failure_rate"], metrics["cycle_time_hours"]
    cfr_text = figures.show("change_failure_rate", cfr)
    cycle_text = figures.show("cycle_time_hours", cycle)
    out.append(f"In {period.label}: {metrics['deployments']} deployments, {metrics['failed_deployments']} failed "
               f"(change failure rate {cfr_text}), median cycle time {cycle_text}, {metrics['incidents']} "
               f"incident{'' if metrics['incidents'] == 1 else 's'}.")
    used = tiers[tiers["weeks"] > 0]
    if len(used) > 1:
        parts = [f"{r.adoption_tier}: {r.weeks} weeks, change failure rate "
                 + figures.show("change_failure_rate", r.change_failure_rate) for r in used.itertuples()]
        out.append("By adoption tier: " + "; ".join(parts) + ".")
    elif len(used) == 1:
        out.append(f"Every week fell in one adoption tier ({used.iloc[0]['adoption_tier']} of members active on a "
                   "workday), so tiers cannot be compared.")
    return out


def delivery_report(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams,
                    teams: list[str] | None = None) -> dict:
    """The `delivery` command's document: the window, then one entry per team (see TeamDelivery.to_json)."""
    window = prepare(con, period, params)
    teams = teams if teams is not None else usage.teams_in_warehouse(con, period)
    return {
        "period": period.label,
        "window": {"start": str(window.weeks[0]) if window.weeks else None,
                   "end": str(period.end), "weeks": len(window.weeks)},
        "teams": [team_delivery(con, window, t).to_json() for t in teams],
        "gaps": gaps.gaps_document(con, window.weeks[0] if window.weeks else period.start, period.end),
    }


# -- text and tables for the command and the notebook ------------------------------------------------
def _show(key: str, value, missing: str = "n/a") -> str:
    """A delivery figure as every page writes it (`figures.show`), `missing` where it has no value."""
    return missing if value is None or value != value else figures.show(key, value)


def metrics_table(td: TeamDelivery) -> pd.DataFrame:
    """The period's delivery figures of a team, one row per metric ('n/a' where undefined, e.g. no deployments).

    A team under k shows no figure, only that it is suppressed.
    """
    rows = [(figures.label(key), key) for key in (
        "prs_merged", "cycle_time_hours", "review_turnaround_hours", "deployments", "deployment_frequency",
        "failed_deployments", "change_failure_rate", "incidents", "mttr_hours") if key in td.metrics or td.suppressed]
    hidden = f"suppressed (fewer than {td.metrics.get('k')} developers)"
    values = [hidden if td.suppressed else _show(key, td.metrics[key]) for _, key in rows]
    return pd.DataFrame({"metric": [label for label, _ in rows], "value": pd.Series(values, dtype=object)})


def tiers_table(td: TeamDelivery) -> pd.DataFrame:
    """The adoption tiers with readable headers and rounded figures ('-' for a tier without weeks)."""
    out = pd.DataFrame({"adoption tier": td.tiers["adoption_tier"], "weeks": td.tiers["weeks"]})
    for metric in metrics.WEEKLY_METRICS:
        values = [_show(metric, v, missing="-") for v in td.tiers[metric]]
        out[verdict.METRIC_LABELS[metric]] = pd.Series(values, dtype=object)
    return out


def same_week_table(td: TeamDelivery) -> pd.DataFrame:
    """Correlations of the verdict's usage measure with each delivery metric at lags 0, 1 and 2 weeks."""
    c = td.correlations[td.correlations["usage_measure"] == delivery_usage.VERDICT_USAGE]
    rows = []
    for r in c.itertuples():
        has_rho = r.spearman is not None and r.spearman == r.spearman
        has_ci = r.ci_low is not None and r.ci_low == r.ci_low
        rows.append({"delivery metric": verdict.METRIC_LABELS[r.delivery_metric],
                     "usage leads by (weeks)": int(r.lag_weeks),
                     "rho": f"{r.spearman:+.2f}" if has_rho else "n/a",
                     f"{stats.CONFIDENCE:.0%} interval": (f"{r.ci_low:+.2f} to {r.ci_high:+.2f}" if has_ci
                                                                 else "too few weeks"),
                     "weeks": int(r.n)})
    return pd.DataFrame(rows)


def verdict_markdown(td: TeamDelivery) -> str:
    """The verdict, its reason, its evidence and the caveat, as markdown."""
    lines = [f"**Verdict for {td.team}: {td.verdict.replace('_', ' ')}** ({td.decision['reason']}).", ""]
    lines += [f"- {e}" for e in td.decision["evidence"]]
    lines += ["", f"*{verdict.CAVEAT}*"]
    return "\n".join(lines)


def summary_rows(document: dict) -> pd.DataFrame:
    """One row per team of the `delivery` document, for the command's table."""
    rows = []
    for t in document["teams"]:
        m = t["metrics"]
        hidden = f"suppressed (< {m['k']})" if m.get("suppressed") else None
        rows.append({"team": t["team"], "verdict": t["verdict"], "weeks": t["weeks"],
                     "developers": hidden or figures.show("active_developers", t["developers"]),
                     **{label: hidden or figures.show(key, m.get(key)) for label, key in (
                         ("deploys/wk", "deployment_frequency"), ("CFR", "change_failure_rate"),
                         ("cycle", "cycle_time_hours"), ("MTTR", "mttr_hours"))},
                     "reason": t["reason"]})
    return pd.DataFrame(rows)


def window_note(window_weeks: list[date], period: Period) -> str:
    if not window_weeks:
        return f"No usage data up to {period.end}."
    return (f"Window: {len(window_weeks)} weeks from {window_weeks[0]:%d %b %Y} to {period.end:%d %b %Y} (the month and "
            f"the weeks before it, up to {delivery_usage.MAX_WEEKS}; weeks start on Monday, and a week counts when at "
            f"least five of its days have data).")

