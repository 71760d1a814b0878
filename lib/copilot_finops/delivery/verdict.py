"""The verdict per team: does the data support scaling Copilot, tightening governance, or neither?

The rule (issue 6): usage rising and failures falling is a defensible scaling case; usage rising
and delivery quality worsening tightens governance; anything else is inconclusive. Read here as:

1. insufficient_data: fewer than MIN_WEEKS weeks with usage figures, or fewer than
   MIN_DEVELOPERS developers active in the window. Nothing is concluded, and the reason says which.
2. Usage rising: the verdict's usage measure (delivery_usage.VERDICT_USAGE) correlates positively
   with the week number, its whole interval above zero. If not, inconclusive.
3. Each quality metric (change failure rate, time to restore, cycle time) is compared with usage
   in the same week: "worse" when its whole interval lies on the side where more usage goes with
   worse delivery, "better" when it lies on the other side, otherwise no clear relation.
4. tighten: something worse and nothing better. scaling: something better, nothing worse, and
   the change failure rate lower in higher-usage weeks (its rho below zero). Otherwise
   inconclusive (mixed or no clear relation).

Only same-week correlations decide; the lagged ones are shown for reading, not fished for a
verdict. Every verdict lists its evidence and says that correlation is not causation.
"""
from __future__ import annotations

import pandas as pd

from . import stats

MIN_WEEKS = 8
MIN_DEVELOPERS = 5
# Delivery metrics the verdict reads, with the direction that means worse delivery as usage rises.
QUALITY_METRICS = {"change_failure_rate": +1, "mttr_hours": +1, "cycle_time_hours": +1}
METRIC_LABELS = {
    "cycle_time_hours": "Cycle time (h)",
    "review_turnaround_hours": "Review turnaround (h)",
    "deployment_frequency": "Deployments per week",
    "change_failure_rate": "Change failure rate",
    "mttr_hours": "Time to restore (h)",
}
CAVEAT = ("Correlation is not causation: usage and delivery can move together because of the season, staffing, "
          "the kind of work or a process change, and a team's weeks are few. These figures say what moved "
          "together, not why; read them with the team before acting.")
VERDICTS = ("scaling", "tighten", "inconclusive", "insufficient_data")


def _fmt_rho(c: dict) -> str:
    text = f"rho {c['spearman']:+.2f}"
    if c.get("ci_low") is not None and c["ci_low"] == c["ci_low"]:  # NaN: no interval, said in words
        text += f" ({stats.CONFIDENCE:.0%} interval {c['ci_low']:+.2f} to {c['ci_high']:+.2f}, {c['n']} weeks)"
    else:
        text += f" ({c['n']} weeks: too few for an interval)"
    return text


def _names(metrics: list[str]) -> str:
    words = [METRIC_LABELS[m].split(" (")[0].lower() for m in metrics]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def classify(correlation: dict, worse_sign: int) -> str:
    """'worse', 'better' or 'unclear' for one same-week correlation of usage with a quality metric."""
    lo, hi = correlation.get("ci_low"), correlation.get("ci_high")
    if correlation.get("spearman") is None or lo is None or hi is None:
        return "unclear"
    if (lo > 0 and worse_sign > 0) or (hi < 0 and worse_sign < 0):
        return "worse"
    if (hi < 0 and worse_sign > 0) or (lo > 0 and worse_sign < 0):
        return "better"
    return "unclear"


def decide(weeks: int, developers: int, usage_trend: dict, same_week: dict[str, dict],
           usage_label: str = "usage") -> dict:
    """Apply the rule to one team's figures.

    Parameters
    ----------
    weeks : int
        Weeks in the window with usage figures (not suppressed).
    developers : int
        Distinct developers active on Copilot while on the team in the window.
    usage_trend : dict
        `stats.trend` of the verdict's usage measure (rho with the week number).
    same_week : dict
        metric -> `stats.correlate` of usage with that metric in the same week (lag 0).
    usage_label : str
        How the evidence names the usage measure.

    Returns
    -------
    dict with verdict, reason, evidence (list of sentences), and per-metric reading ('worse',
    'better', 'unclear').
    """
    if developers < MIN_DEVELOPERS:
        return {"verdict": "insufficient_data", "reading": {},
                # The exact head count of a small group is itself a figure over fewer than k people: not shown.
                "reason": f"fewer than {MIN_DEVELOPERS} developers used Copilot on the team in the window",
                "evidence": [f"Fewer than {MIN_DEVELOPERS} developers used Copilot on the team in the window; a verdict "
                             "needs at least that many, as weekly figures of fewer people say more about individuals "
                             "than the team."]}
    if weeks < MIN_WEEKS:
        return {"verdict": "insufficient_data", "reading": {},
                "reason": f"fewer than {MIN_WEEKS} weeks with usage figures: {weeks} in the window",
                "evidence": [f"{weeks} weeks in the window have usage figures for the team; a verdict needs at least "
                             f"{MIN_WEEKS} to tell a relation from chance."]}
    evidence = []
    rising = usage_trend.get("ci_low") is not None and usage_trend["ci_low"] > 0
    falling = usage_trend.get("ci_high") is not None and usage_trend["ci_high"] < 0
    if usage_trend.get("spearman") is None:
        evidence.append(f"{usage_label.capitalize()}: no trend can be read.")
    else:
        moved = "rose" if rising else "fell" if falling else "did not clearly rise"
        evidence.append(f"{usage_label.capitalize()} {moved} over the window: {_fmt_rho(usage_trend)} with the week number.")
    reading = {}
    for metric, worse_sign in QUALITY_METRICS.items():
        c = same_week.get(metric) or {"spearman": None, "n": 0}
        reading[metric] = classify(c, worse_sign)
        label = METRIC_LABELS[metric].split(" (")[0]
        if c.get("spearman") is None:
            evidence.append(f"{label}: not enough weeks with a value ({c.get('n', 0)}) to compare with usage.")
            continue
        meaning = {"worse": "worse in higher-usage weeks", "better": "better in higher-usage weeks",
                   "unclear": "no clear relation with usage"}[reading[metric]]
        evidence.append(f"{label} against usage in the same week: {_fmt_rho(c)}, {meaning}.")
    worse = [m for m, r in reading.items() if r == "worse"]
    better = [m for m, r in reading.items() if r == "better"]
    cfr = (same_week.get("change_failure_rate") or {}).get("spearman")
    names = _names
    if not rising:
        verdict, reason = "inconclusive", f"{usage_label} did not rise over the window, so there is no usage growth to judge"
    elif worse and not better:
        verdict, reason = "tighten", f"{usage_label} rose while {names(worse)} worsened"
    elif better and not worse and cfr is not None and cfr < 0:
        verdict = "scaling"
        others = [m for m in better if m != "change_failure_rate"]
        if "change_failure_rate" in better:
            reason = f"{usage_label} rose while change failures fell" + (f" and {names(others)} improved" if others else "")
        else:
            reason = (f"{usage_label} rose while {names(better)} improved and change failures fell (direction only: "
                      "the interval includes zero)")
        reason += "; nothing got worse"
    elif worse and better:
        verdict, reason = "inconclusive", f"mixed: {names(better)} better but {names(worse)} worse as {usage_label} rose"
    elif better:
        verdict, reason = "inconclusive", (f"{names(better)} improved as {usage_label} rose, but change failures did not fall")
    else:
        verdict, reason = "inconclusive", f"{usage_label} rose, but no quality metric moved clearly with it"
    return {"verdict": verdict, "reason": reason, "evidence": evidence, "reading": reading}


def lag_sentence(correlations: pd.DataFrame, metric: str, usage_measure: str) -> str | None:
    """One sentence on how a metric's correlation with usage looks one and two weeks later."""
    rows = correlations[(correlations["delivery_metric"] == metric) & (correlations["usage_measure"] == usage_measure)
                        & (correlations["lag_weeks"] > 0)]
    parts = [f"{int(r.lag_weeks)} week{'s' if r.lag_weeks > 1 else ''} later rho {r.spearman:+.2f}"
             for r in rows.itertuples() if r.spearman is not None and r.spearman == r.spearman]
    if not parts:
        return None
    return f"{METRIC_LABELS[metric].split(' (')[0]} against earlier usage: " + "; ".join(parts) + "."
