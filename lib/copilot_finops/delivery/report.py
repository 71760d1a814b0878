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
from . import context, dora, events as delivery_events, metrics, stats, usage as delivery_usage, verdict

PERIOD_USAGE_FIELDS = ("active_developers", "prompts_per_active_developer", "requests_per_active_developer",
                       "accepted_output_ratio", "ai_credits_used")


@dataclass
class DeliveryWindow:
    """What every team's analysis shares: the period, the weeks of the window, the attributed events."""

    period: Period
    weeks: list[date]
    events: delivery_events.DeliveryEvents
    week_usage: pd.DataFrame
    active_weeks: pd.DataFrame
    k: int
    contrast: pd.DataFrame  # `context.adoption_contrast` of the window: faster against slower adopters


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
        records = stats.records(self.correlations)
        return {
            "team": self.team, "verdict": self.verdict, "reason": self.decision["reason"],
            "evidence": list(self.decision["evidence"]), "weeks": self.weeks,
            # the head count of a team under k is itself a figure about a handful of people
            "developers": None if self.suppressed else self.developers,
            "usage_measure": delivery_usage.VERDICT_USAGE, "usage_trend": self.usage_trend,
            "confidence": stats.CONFIDENCE, "alpha": stats.ALPHA, "verdict_metrics": list(verdict.VERDICT_METRICS),
            "reading": self.decision.get("reading", {}), "p_adjusted": self.decision.get("p_adjusted", {}),
            "correlations": [{**r, "lag_weeks": int(r["lag_weeks"]), "n": int(r["n"])} for r in records],
            "adoption_tiers": stats.records(self.tiers),
            "metrics": self.metrics, "suppressed": self.suppressed, "caveat": verdict.CAVEAT,
        }


@cache.memoised("delivery-window")
def prepare(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> DeliveryWindow:
    """Read the correlation window (up to 26 weeks ending with the period) and attribute its events.

    Org-wide and the same for every team's report of the period, so it is memoised beside the warehouse.
    """
    weeks = delivery_usage.analysis_weeks(con, period)
    start = weeks[0] if weeks else period.start
    inputs = delivery_events.load_delivery_inputs(con, start, period.end)
    events = delivery_events.delivery_events(inputs, params.incident_label)
    active = delivery_usage.active_user_weeks(con, inputs.pulls["author_id"], weeks)
    week_usage = delivery_usage.read_week_usage(con, weeks)
    k = params.privacy.k_anonymity
    contrast = _contrast(con, weeks, period, events, week_usage, active, k)
    return DeliveryWindow(period, weeks, events, week_usage, active, k, contrast)


@cache.memoised("delivery-teams")
def team_deliveries(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> dict[str, TeamDelivery]:
    """`team_delivery` of every team of the period, by slug: built once from the window (the org-wide pass) and
    memoised, so a team's page reads its analysis (26 weeks of figures) rather than the whole window again (a
    million pull requests at 30,000 developers)."""
    window = prepare(con, period, params)
    return {t: team_delivery(con, window, t) for t in usage.teams_in_warehouse(con, period)}


def team_delivery_of(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, team: str) -> TeamDelivery:
    """The team's `team_delivery` for the period, from `team_deliveries` where the memo keeps it. Otherwise (the
    memo off, or a warehouse it cannot keep entries for) only this team is analysed, as is a team the period does
    not know (what `team_delivery` makes of no rows)."""
    if cache.can_keep(con):
        teams = team_deliveries(con, period, params)
        if team in teams:
            return teams[team]
    return team_delivery(con, prepare(con, period, params), team)


@cache.memoised("delivery-verdicts")
def team_verdicts(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> pd.DataFrame:
    """Every team's verdict for the period and its reason (team_slug, verdict, reason), as `team_delivery` decides
    it. The org overview and the index's headline read it; memoised, as each team's verdict takes a second."""
    return pd.DataFrame([{"team_slug": t, "verdict": d.verdict, "reason": d.decision["reason"]}
                         for t, d in team_deliveries(con, period, params).items()],
                        columns=["team_slug", "verdict", "reason"])


def _contrast(con, weeks, period, events, week_usage, active, k) -> pd.DataFrame:
    """Faster against slower adopters over the window (`context.adoption_contrast`), teams of k or more only."""
    teams = sorted(set(week_usage["team_slug"].dropna()))
    if not weeks:
        return context.adoption_contrast({}, set(), delivery_usage.VERDICT_USAGE)
    frames = {t: delivery_usage.team_week_frame(week_usage, events, t, weeks, k, active) for t in teams}
    eligible = {t for t in teams if delivery_usage.window_developers(con, t, weeks[0], period.end) >= k
                and frames[t][delivery_usage.VERDICT_USAGE].notna().sum() >= verdict.MIN_WEEKS}
    return context.adoption_contrast(frames, eligible, delivery_usage.VERDICT_USAGE)


def _period_usage(con, team: str, period: Period, k: int) -> dict:
    summary = usage.team_period_summary(con, team, period, k)
    team = summary["team"]  # full precision (figures.json_value), so a reader's rounding matches the pages'
    out = {f: figures.json_value(usage.SUMMARY_FIGURES.get(f, f), team[f], k=k,
                                 people=figures.people_of(usage.SUMMARY_FIGURES.get(f, f), team)) for f in PERIOD_USAGE_FIELDS}
    # DuckDB adds floats in whatever order its threads finish, so the last bits differ between runs: 12 significant
    # digits keep every figure a page shows and give the same document on every run.
    return {f: v if not isinstance(v, float) else float(f"{v:.12g}") for f, v in out.items()}


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
    correlations = stats.lagged_correlations(weekly, delivery_usage.USAGE_MEASURES, metrics.WEEKLY_METRICS,
                                             detail_measures=[measure])
    trend = stats.trend(weekly[measure])
    same_week = {r["delivery_metric"]: r for r in stats.records(
        correlations[(correlations["usage_measure"] == measure) & (correlations["lag_weeks"] == 0)])}
    label = delivery_usage.USAGE_LABELS[measure].lower()
    decision = verdict.decide(weeks_with_usage, developers, trend, same_week, usage_label=label)
    tiers = stats.adoption_tiers(weekly, metrics.WEEKLY_METRICS)
    if suppressed:
        month = {"suppressed": True, "k": window.k}
    else:
        month = metrics.period_metrics(window.events, team, window.period.start, window.period.end)
        month = {**month, "dora": dora.tiers(month), "usage": _period_usage(con, team, window.period, window.k)}
        if decision["verdict"] != "insufficient_data":
            decision["evidence"] += _context_evidence(window, team, month, correlations, tiers, measure)
    return TeamDelivery(team, window.period, weekly, correlations, trend, tiers, month, decision,
                        weeks_with_usage, developers, suppressed)


def _context_evidence(window: DeliveryWindow, team: str, month: dict, correlations: pd.DataFrame,
                      tiers: pd.DataFrame, measure: str) -> list[str]:
    out = []
    lag = verdict.lag_sentence(correlations, "change_failure_rate", measure)
    if lag:
        out.append(lag)
    out.append(month_sentence(window.period, month))
    across = context.context_sentence(window.contrast, team, verdict.METRIC_LABELS)
    if across:
        out.append(across)
    used = tiers[tiers["weeks"] > 0]
    if len(used) > 1:
        parts = [f"{r.adoption_tier}: {r.weeks} week{'s' if r.weeks != 1 else ''}, change failure rate "
                 + format_metric("change_failure_rate", r.change_failure_rate, missing="none (no deployment)")
                 for r in used.itertuples()]
        out.append("By adoption tier: " + "; ".join(parts) + ".")
    elif len(used) == 1:
        out.append(f"Every week fell in one adoption tier ({used.iloc[0]['adoption_tier']} of members active on a "
                   "workday), so tiers cannot be compared.")
    return out


def month_sentence(period: Period, month: dict) -> str:
    """The month's DORA figures in one sentence, each with its DORA tier; 'none' where a figure has nothing to measure."""
    tiers = month.get("dora", {})

    def with_tier(metric: str, text: str) -> str:
        t = (tiers.get(metric) or {}).get("tier")
        return f"{text}, DORA {t}" if t else text

    cfr, n = month["change_failure_rate"], month["deployments"]
    parts = [with_tier("deployment_frequency", f"{n} deployment{'s' if n != 1 else ''}, "
                       + format_metric("deployment_frequency", month["deployment_frequency"]) + " a week"),
             with_tier("change_failure_rate", f"{month['failed_deployments']} failed "
                       + format_metric("change_failure_rate", cfr, missing="(no deployment, so no change failure rate)",
                                       around="(change failure rate {})")),
             "median cycle time " + format_metric("cycle_time_hours", month["cycle_time_hours"], "none (nothing merged)"),
             with_tier("lead_time_hours", "median lead time for changes "
                       + format_metric("lead_time_hours", month["lead_time_hours"], "none (nothing deployed)")),
             with_tier("mttr_hours", f"{month['incidents']} incident{'s' if month['incidents'] != 1 else ''}, median "
                       "time to restore " + format_metric("mttr_hours", month["mttr_hours"], "none (no incident closed)"))]
    return f"In {period.label}: " + "; ".join(parts) + "."


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
def format_metric(metric: str, value, missing: str = "n/a", around: str = "{}") -> str:
    """A delivery figure as every page writes it (`figures.show`, the one formatter), set in `around`; `missing`
    where it has no value (e.g. 'none (no deployment)')."""
    return missing if value is None or value != value else around.format(figures.show(metric, value))


METRIC_KEYS = ("prs_merged", "cycle_time_hours", "prs_deployed", "lead_time_hours", "review_turnaround_hours",
               "deployments", "deployment_frequency", "failed_deployments", "change_failure_rate", "incidents",
               "mttr_hours")
METRIC_ROWS = tuple((figures.label(key), key) for key in METRIC_KEYS)


def metrics_table(td: TeamDelivery) -> pd.DataFrame:
    """The period's delivery figures of a team, one row per metric, with the DORA tier of the four keys.

    'n/a' where a figure is undefined (e.g. no deployment); a team under k shows no figure, only
    that it is suppressed.
    """
    hidden = f"suppressed (fewer than {td.metrics.get('k')} developers)"
    dora_tiers = td.metrics.get("dora", {})
    values = [hidden if td.suppressed else format_metric(key, td.metrics[key]) for _, key in METRIC_ROWS]
    tiers = ["" if td.suppressed else ((dora_tiers.get(key) or {}).get("tier") or
                                       ("n/a" if key in dora.BANDS else "")) for _, key in METRIC_ROWS]
    return pd.DataFrame({"metric": [label for label, _ in METRIC_ROWS], "value": pd.Series(values, dtype=object),
                         "DORA tier": pd.Series(tiers, dtype=object)})


def tiers_table(td: TeamDelivery) -> pd.DataFrame:
    """The adoption tiers with readable headers and rounded figures ('-' for a tier without weeks)."""
    out = pd.DataFrame({"adoption tier": td.tiers["adoption_tier"], "weeks": td.tiers["weeks"]})
    for metric in metrics.WEEKLY_METRICS:
        values = [format_metric(metric, v, missing="-") for v in td.tiers[metric]]
        out[verdict.METRIC_LABELS[metric]] = pd.Series(values, dtype=object)
    return out


def same_week_table(td: TeamDelivery) -> pd.DataFrame:
    """The verdict's usage measure against each delivery metric at lags 0, 1 and 2 weeks: raw rho, rho with
    both trends removed, its interval and p-value, the rho of week-to-week changes and its p-value, and for the
    verdict's metrics the Holm-adjusted p-value the verdict read (of the larger of the two); a note where a
    figure is missing."""
    c = td.correlations[td.correlations["usage_measure"] == delivery_usage.VERDICT_USAGE]
    adjusted = td.decision.get("p_adjusted", {})

    def rho(v):
        return "-" if v is None or v != v else f"{v:+.2f}"

    def p_text(v):
        return "-" if v is None or v != v else f"{v:.3f}"

    rows = []
    for r in stats.records(c):
        has_ci = r["detrended_ci_low"] is not None
        in_verdict = r["lag_weeks"] == 0 and r["delivery_metric"] in verdict.VERDICT_METRICS
        held = adjusted.get(r["delivery_metric"]) if in_verdict else None
        rows.append({"delivery metric": verdict.METRIC_LABELS[r["delivery_metric"]],
                     "usage leads by (weeks)": int(r["lag_weeks"]), "raw rho": rho(r["spearman"]),
                     "rho, trends removed": rho(r["detrended"]),
                     f"{stats.CONFIDENCE:.0%} interval": (f"{r['detrended_ci_low']:+.2f} to {r['detrended_ci_high']:+.2f}"
                                                         if has_ci else "-"),
                     "p": p_text(r["p_value"]), "week-to-week rho": rho(r["differenced"]),
                     "week-to-week p": p_text(r["differenced_p_value"]),
                     "verdict p (Holm)": "-" if held is None else f"{held:.3f}", "weeks": int(r["n"]),
                     "note": r["note"] or ""})
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
                     **{label: hidden or format_metric(key, m.get(key)) for label, key in (
                         ("deploys/wk", "deployment_frequency"), ("CFR", "change_failure_rate"),
                         ("cycle", "cycle_time_hours"), ("lead", "lead_time_hours"), ("MTTR", "mttr_hours"))},
                     "reason": t["reason"]})
    return pd.DataFrame(rows)


def window_note(window_weeks: list[date], period: Period) -> str:
    if not window_weeks:
        return f"No usage data up to {period.end}."
    return (f"Window: {len(window_weeks)} weeks from {window_weeks[0]:%d %b %Y} to {period.end:%d %b %Y} (the month and "
            f"the weeks before it, up to {delivery_usage.MAX_WEEKS}; weeks start on Monday, and a week counts when at "
            f"least five of its days have data).")

