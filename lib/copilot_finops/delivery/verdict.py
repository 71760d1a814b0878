"""The verdict per team: does the data support scaling Copilot, tightening governance, or neither?

The rule reads the relation within the team after removing shared trends (`stats`), whether or
not usage grew, because a team whose heavier-usage weeks clearly go with more failures matters
even when adoption is flat, and a team whose usage and quality both trend proves nothing by that:

1. insufficient_data: fewer than MIN_DEVELOPERS developers active in the window, or fewer than
   MIN_WEEKS weeks with usage figures. Nothing is concluded, and the reason says which.
2. Each metric of VERDICT_METRICS (change failure rate, time to restore, cycle time) is tested
   against usage in the same week in two views (`stats`): the detrended rho (the weeks around each
   series' straight trend) and the differenced rho (week-to-week changes), each with a p-value from
   surrogates that keep usage's autocorrelation. The relation must hold in both, so a metric's
   p-value is the larger of the two; Holm's correction runs over the metrics that could be tested
   (family-wise error ALPHA). A metric is "worse" or "better" in heavier-usage weeks when its
   corrected p-value is under ALPHA, both rhos point the same way and both are at least MIN_RHO
   in size; otherwise "unclear" (or "untested": too few weeks).
3. tighten: more failures or slower restores. scaling: fewer failures, faster restores or
   shorter cycle times, and nothing worse. inconclusive otherwise, with the reason in words
   (slower delivery alone, mixed, or nothing clear).

Only same-week relations decide; lags are shown for reading, not fished for a verdict. The
verdict's reason is built from the readings alone, so it never claims more than its evidence.
"""
from __future__ import annotations

import pandas as pd

from . import stats

MIN_WEEKS = 8
MIN_DEVELOPERS = 5
# The smallest relation a verdict acts on, whatever its p-value: below a rho of 0.3 usage goes with less
# than a tenth of a metric's week-to-week variation, too little to tighten or scale on. Over the 8 to 26
# weeks a window holds, a relation that clears Holm's bar is mostly larger than this already; the floor
# keeps a long window's small but "significant" relation from becoming a verdict.
MIN_RHO = 0.3
# The metrics a verdict reads, with the direction that means worse delivery in heavier-usage weeks.
VERDICT_METRICS = {"change_failure_rate": +1, "mttr_hours": +1, "cycle_time_hours": +1}
QUALITY_METRICS = VERDICT_METRICS  # the name earlier callers used
TIGHTEN_ON = ("change_failure_rate", "mttr_hours")  # stability: worse here tightens
METRIC_LABELS = {
    "cycle_time_hours": "Cycle time (h)",
    "lead_time_hours": "Lead time for changes (h)",
    "review_turnaround_hours": "Review turnaround (h)",
    "deployment_frequency": "Deployments per week",
    "change_failure_rate": "Change failure rate",
    "mttr_hours": "Time to restore (h)",
}
MOVED = {  # metric -> (words when worse, words when better), for heavier-usage weeks
    "change_failure_rate": ("more failed deployments", "fewer failed deployments"),
    "mttr_hours": ("slower restores", "faster restores"),
    "cycle_time_hours": ("longer cycle times", "shorter cycle times"),
}
CAVEAT = ("Correlation is not causation: usage and delivery can move together because of the season, staffing, "
          "the kind of work or a process change, and a team's weeks are few. These figures say what moved "
          "together, not why; read them with the team before acting.")
VERDICTS = ("scaling", "tighten", "inconclusive", "insufficient_data")


def label(metric: str) -> str:
    """A metric's name without its unit: 'Change failure rate'."""
    return METRIC_LABELS[metric].split(" (")[0]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def rho_text(c: dict) -> str:
    """One relation in words: raw rho, detrended rho with its interval and p-value, differenced rho.

    Where a figure cannot be computed the text says why (never 'nan')."""
    if c.get("spearman") is None:
        return c.get("note") or "no figures to compare"
    parts = [f"raw rho {c['spearman']:+.2f}"]
    if c.get("ci_low") is not None:
        parts[0] += f" ({stats.CONFIDENCE:.0%} interval {c['ci_low']:+.2f} to {c['ci_high']:+.2f})"
    if c.get("detrended") is not None:
        text = f"with both trends removed {c['detrended']:+.2f}"
        if c.get("detrended_ci_low") is not None:
            text += (f" ({stats.CONFIDENCE:.0%} interval {c['detrended_ci_low']:+.2f} to {c['detrended_ci_high']:+.2f}, "
                     f"p = {c['p_value']:.3f})")
        parts.append(text)
    if c.get("differenced") is not None:
        text = f"week-to-week changes {c['differenced']:+.2f}"
        if c.get("differenced_p_value") is not None:
            text += f" (p = {c['differenced_p_value']:.3f})"
        parts.append(text)
    text = "; ".join(parts) + f", over {c['n']} weeks"
    if c.get("note"):
        text += f" ({c['note']})"
    return text


def metric_p(c: dict) -> float | None:
    """A metric's p-value for the verdict: the larger of the detrended and the differenced p-values (the
    relation must hold in both views); None when either cannot be computed."""
    p, q = c.get("p_value"), c.get("differenced_p_value")
    return None if p is None or q is None else max(p, q)


def read_metrics(same_week: dict[str, dict], alpha: float | None = None) -> tuple[dict[str, str], dict]:
    """('worse' | 'better' | 'unclear' | 'untested' per verdict metric, Holm-adjusted p-values)."""
    alpha = stats.ALPHA if alpha is None else alpha
    adjusted = stats.holm({m: metric_p(same_week.get(m) or {}) for m in VERDICT_METRICS})
    reading = {}
    for metric, worse_sign in VERDICT_METRICS.items():
        c = same_week.get(metric) or {}
        p, rho, diff = adjusted[metric], c.get("detrended"), c.get("differenced")
        if p is None or rho is None or diff is None:
            reading[metric] = "untested"
        elif p < alpha and diff * rho > 0 and min(abs(rho), abs(diff)) >= MIN_RHO:
            reading[metric] = "worse" if rho * worse_sign > 0 else "better"
        else:
            reading[metric] = "unclear"
    return reading, adjusted


def _metric_sentence(metric: str, c: dict, reading: str, adjusted: float | None, tested: int) -> str:
    name = label(metric)
    if reading == "untested":
        return f"{name} against usage in the same week: {rho_text(c)}. Not judged."
    worse, better = MOVED[metric]
    correction = f"{adjusted:.3f} after Holm's correction for {tested} metrics" if tested > 1 else f"{adjusted:.3f}"
    if reading in ("worse", "better"):
        meaning = f"{worse if reading == 'worse' else better} in heavier-usage weeks (p = {correction})"
    else:
        meaning = f"no clear relation with usage once trends are removed (p = {correction})"
        diff, rho, p_det, p_diff = c.get("differenced"), c.get("detrended"), c.get("p_value"), c.get("differenced_p_value")
        if diff is not None and rho is not None and p_det is not None and p_diff is not None:
            if p_det < stats.ALPHA <= p_diff or diff * rho <= 0:
                meaning += ("; the week-to-week changes do not bear the detrended relation out, so it may be left over "
                            "from a step or a bent trend the straight line did not remove")
            elif adjusted is not None and adjusted < stats.ALPHA and min(abs(rho), abs(diff)) < MIN_RHO:
                meaning += f"; too weak to act on (a verdict needs a rho of at least {MIN_RHO:.1f} in both views)"
        raw_lo, raw_hi = c.get("ci_low"), c.get("ci_high")
        if raw_lo is not None and (raw_lo > 0 or raw_hi < 0):
            meaning += "; the raw relation came with the trend the two series share"
    return f"{name} against usage in the same week: {rho_text(c)}. {meaning[0].upper()}{meaning[1:]}."


def decide(weeks: int, developers: int, usage_trend: dict, same_week: dict[str, dict],
           usage_label: str = "usage") -> dict:
    """Apply the rule to one team's figures.

    Parameters
    ----------
    weeks : weeks in the window with usage figures (not suppressed).
    developers : distinct developers active on Copilot while on the team in the window.
    usage_trend : `stats.trend` of the verdict's usage measure (rho with the week number); described, not a gate.
    same_week : metric -> `stats.correlate` of usage with that metric in the same week (lag 0).
    usage_label : how the evidence names the usage measure.

    Returns
    -------
    dict with verdict, reason, evidence (sentences), reading (metric -> 'worse', 'better', 'unclear',
    'untested') and p_adjusted (metric -> Holm-adjusted p-value or None).
    """
    if developers < MIN_DEVELOPERS:
        return {"verdict": "insufficient_data", "reading": {}, "p_adjusted": {},
                # The exact head count of a small group is itself a figure over fewer than k people: not shown.
                "reason": f"fewer than {MIN_DEVELOPERS} developers used Copilot on the team in the window",
                "evidence": [f"Fewer than {MIN_DEVELOPERS} developers used Copilot on the team in the window; a verdict "
                             "needs at least that many, as weekly figures of fewer people say more about individuals "
                             "than the team."]}
    if weeks < MIN_WEEKS:
        return {"verdict": "insufficient_data", "reading": {}, "p_adjusted": {},
                "reason": f"fewer than {MIN_WEEKS} weeks with usage figures: {weeks} in the window",
                "evidence": [f"{weeks} weeks in the window have usage figures for the team; a verdict needs at least "
                             f"{MIN_WEEKS} to tell a relation from chance."]}
    evidence = [_trend_sentence(usage_trend, usage_label)]
    reading, adjusted = read_metrics(same_week)
    tested = sum(p is not None for p in adjusted.values())
    for metric in VERDICT_METRICS:
        evidence.append(_metric_sentence(metric, same_week.get(metric) or {}, reading[metric], adjusted[metric], tested))
    verdict, reason = _rule(reading)
    return {"verdict": verdict, "reason": reason, "evidence": evidence, "reading": reading, "p_adjusted": adjusted}


def _trend_sentence(trend: dict, usage_label: str) -> str:
    name = usage_label[0].upper() + usage_label[1:]
    if trend.get("spearman") is None:
        return f"{name}: no trend can be read ({trend.get('note') or 'too few weeks'})."
    lo, hi = trend.get("ci_low"), trend.get("ci_high")
    moved = ("rose" if lo is not None and lo > 0 else "fell" if hi is not None and hi < 0
             else "did not clearly rise or fall")
    interval = (f" ({stats.CONFIDENCE:.0%} interval {lo:+.2f} to {hi:+.2f})" if lo is not None
                else f" ({trend.get('note')})" if trend.get("note") else "")
    return (f"{name} {moved} over the window: rho {trend['spearman']:+.2f} with the week number{interval}, "
            f"{trend['n']} weeks. The verdict reads the weeks around that trend, not the trend itself.")


def _rule(reading: dict[str, str]) -> tuple[str, str]:
    worse = [m for m in VERDICT_METRICS if reading.get(m) == "worse"]
    better = [m for m in VERDICT_METRICS if reading.get(m) == "better"]
    tightening = [m for m in worse if m in TIGHTEN_ON]
    if tightening:
        reason = f"heavier-usage weeks had clearly {_join([MOVED[m][0] for m in tightening])} once trends are removed"
        if better:
            reason += f", though {_join([MOVED[m][1] for m in better])}"
        return "tighten", reason
    if better and not worse:
        return "scaling", (f"heavier-usage weeks had clearly {_join([MOVED[m][1] for m in better])} once trends are "
                           "removed, and no metric was worse")
    if worse and better:
        return "inconclusive", (f"mixed: heavier-usage weeks had {_join([MOVED[m][1] for m in better])} but "
                                f"{_join([MOVED[m][0] for m in worse])}")
    if worse:
        return "inconclusive", (f"heavier-usage weeks had clearly {_join([MOVED[m][0] for m in worse])}, but failures "
                                "and restores did not clearly change")
    if all(r == "untested" for r in reading.values()):
        return "inconclusive", "no metric had enough weeks with a value to test against usage"
    return "inconclusive", "no metric moved clearly with usage once the trends were removed"


def lag_sentence(correlations: pd.DataFrame, metric: str, usage_measure: str) -> str | None:
    """One sentence on how a metric's detrended relation with usage looks one and two weeks later."""
    rows = correlations[(correlations["delivery_metric"] == metric) & (correlations["usage_measure"] == usage_measure)
                        & (correlations["lag_weeks"] > 0)]
    parts = [f"{int(r['lag_weeks'])} week{'s' if r['lag_weeks'] > 1 else ''} later {r['detrended']:+.2f}"
             for r in stats.records(rows) if r["detrended"] is not None]
    if not parts:
        return None
    return (f"{label(metric)} against earlier usage, trends removed: " + "; ".join(parts)
            + " (for reading only: the verdict uses the same week).")
