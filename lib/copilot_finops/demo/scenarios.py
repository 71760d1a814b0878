"""What the demo org's teams do week by week: how their Copilot usage moves, and what moves their delivery.

Each org draws its teams' scenarios from its seed, with effect sizes drawn from ranges, so no two
orgs are alike and no detector can key on one org's numbers:

- effect (expected verdict `scaling` or `tighten`): delivery answers the team's usage week by week.
  The team's usage swings from week to week (release crunches, quiet weeks) around its trend, and
  a heavier week raises (tighten) or lowers (scaling) its failure odds, or lengthens or shortens
  its cycle times and restores, by an elasticity drawn so the weekly rank correlation is about
  0.5 to 0.7 over 16 weeks. Usage may trend up or stay flat.
- confounded (expected `inconclusive`): adoption ramps (linear or S-shaped) while delivery drifts on
  its own, up or down, or steps once (a CI speed-up, a reorganisation); usage has no effect on delivery.
- flat (expected `inconclusive`): weekly swings and noise, no trend, no effect.

Effects act on the logarithm of the usage multiplier, trend included: a team whose usage truly
raises its failures also sees them trend up when adoption grows; only the week-to-week part tells
that apart from a confound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

METRICS = ("change_failure_rate", "cycle_time_hours", "mttr_hours")
# Elasticities per unit of log usage that give a weekly Spearman of about 0.5 (low) to 0.7 (high)
# between usage and the metric over 16-17 weeks, at SHOCK_SD and the demo's deployment and PR rates
# (measured by simulating this generator's weekly figures).
EFFECT_RANGE = {"change_failure_rate": (3.2, 5.0), "cycle_time_hours": (0.42, 0.65), "mttr_hours": (1.8, 3.0)}
SHOCK_SD = 0.25  # weekly swing of a team's log usage around its trend
BASE = {"change_failure_rate": 0.14, "cycle_time_hours": 24.0, "mttr_hours": 3.0}


@dataclass
class TeamScenario:
    """One team's weekly usage and delivery drivers; `truth()` is what ground_truth.json records."""

    expected: str  # the verdict an honest analysis should reach: scaling, tighten or inconclusive
    kind: str  # effect, confounded or flat
    usage_rise: float = 0.0  # change of log usage over the window
    usage_curve: str = "linear"  # linear or logistic (an S-shaped adoption)
    usage_midpoint: float = 0.5
    effects: dict[str, float] = field(default_factory=dict)  # metric -> elasticity on log usage
    drifts: dict[str, tuple[str, float, float]] = field(default_factory=dict)  # metric -> (shape, size, at)
    shocks: dict[date, float] = field(default_factory=dict)  # week -> weekly log-usage swing

    def curve(self, t: float) -> float:
        if self.usage_curve == "logistic":
            lo, hi = (1 / (1 + math.exp(12 * self.usage_midpoint)), 1 / (1 + math.exp(-12 * (1 - self.usage_midpoint))))
            return (1 / (1 + math.exp(-12 * (t - self.usage_midpoint))) - lo) / (hi - lo)
        return t

    def log_usage(self, t: float, week: date) -> float:
        return self.usage_rise * (self.curve(t) - 0.5) + self.shocks.get(week, 0.0)

    def drift(self, metric: str, t: float) -> float:
        if metric not in self.drifts:
            return 0.0
        shape, size, at = self.drifts[metric]
        if shape == "step":
            return size if t >= at else 0.0
        if shape == "logistic":
            return size / (1 + math.exp(-12 * (t - at)))
        return size * t

    def truth(self) -> dict:
        return {"expected": self.expected, "kind": self.kind, "usage_rise": round(self.usage_rise, 3),
                "usage_curve": self.usage_curve,
                "effects": {m: round(v, 3) for m, v in sorted(self.effects.items())},
                "drifts": {m: [s, round(v, 3), round(a, 3)] for m, (s, v, a) in sorted(self.drifts.items())}}


def _weeks(start: date, end: date) -> list[date]:
    monday = start - timedelta(days=start.weekday())
    out = []
    while monday <= end:
        out.append(monday)
        monday += timedelta(days=7)
    return out


def draw_scenarios(rng: np.random.Generator, teams: list[str], small_team: str, start: date, end: date) -> dict:
    """Scenarios for the org's teams: two scaling and two tighten effects, three confounded, the rest flat.

    The team under five developers gets a flat scenario (its verdict is insufficient data anyway).
    """
    big = [t for t in teams if t != small_team]
    order = [str(t) for t in rng.permutation(big)]
    kinds = ["scaling", "scaling", "tighten", "tighten", "confounded", "confounded", "confounded"]
    weeks = _weeks(start, end)
    out = {}
    for i, team in enumerate(order):
        kind = kinds[i] if i < len(kinds) else "flat"
        out[team] = _scenario(rng, kind)
    out[small_team] = _scenario(rng, "flat")
    for s in out.values():
        s.shocks = {w: float(rng.normal(0, SHOCK_SD)) for w in weeks}
    return {t: out[t] for t in teams}


def _scenario(rng: np.random.Generator, kind: str) -> TeamScenario:
    if kind in ("scaling", "tighten"):
        sign = -1.0 if kind == "scaling" else 1.0
        if kind == "scaling":  # fewer failures and shorter cycle times, as the issue describes a scaling team
            metrics = ["change_failure_rate", "cycle_time_hours"] if rng.random() < 0.6 else [
                str(rng.choice(["change_failure_rate", "cycle_time_hours"]))]
        else:  # more failures, sometimes slower restores too
            metrics = ["change_failure_rate"] + (["mttr_hours"] if rng.random() < 0.4 else [])
        effects = {m: sign * float(rng.uniform(*EFFECT_RANGE[m])) for m in metrics}
        rising = rng.random() < 0.6  # some effect teams adopt, some do not
        return TeamScenario(kind, "effect", usage_rise=float(rng.uniform(0.4, 1.0)) if rising else 0.0,
                            usage_curve=str(rng.choice(["linear", "logistic"])),
                            usage_midpoint=float(rng.uniform(0.35, 0.65)), effects=effects)
    if kind == "confounded":
        drifts = {}
        for metric in rng.permutation(list(METRICS))[: 1 + int(rng.integers(0, 3))]:
            shape = str(rng.choice(["linear", "logistic", "step"]))
            size = {"change_failure_rate": rng.uniform(0.8, 1.6), "cycle_time_hours": rng.uniform(0.3, 0.6),
                    "mttr_hours": rng.uniform(0.4, 0.9)}[str(metric)] * rng.choice([-1.0, 1.0])
            drifts[str(metric)] = (shape, float(size), float(rng.uniform(0.3, 0.7)))
        return TeamScenario("inconclusive", "confounded", usage_rise=float(rng.uniform(0.6, 1.2)),
                            usage_curve=str(rng.choice(["linear", "logistic"])),
                            usage_midpoint=float(rng.uniform(0.35, 0.65)), drifts=drifts)
    return TeamScenario("inconclusive", "flat")


class DeliveryPlan:
    """The org's scenarios read by day: usage multipliers for the usage simulation, delivery drivers for
    the delivery simulation."""

    def __init__(self, scenarios: dict[str, TeamScenario], start: date, end: date):
        self.scenarios = scenarios
        self.start = start
        self.span = max(1, (end - start).days)

    def _t(self, day: date) -> float:
        return (day - self.start).days / self.span

    def log_usage(self, team: str, day: date) -> float:
        return self.scenarios[team].log_usage(self._t(day), day - timedelta(days=day.weekday()))

    def usage_multiplier(self, team: str, day: date) -> float:
        """How much more (or less) the team uses Copilot on this day than its developers' habits alone."""
        return math.exp(self.log_usage(team, day))

    def _driver(self, team: str, day: date, metric: str) -> float:
        s = self.scenarios[team]
        return s.effects.get(metric, 0.0) * self.log_usage(team, day) + s.drift(metric, self._t(day))

    def failure_probability(self, team: str, day: date) -> float:
        base = BASE["change_failure_rate"]
        logit = math.log(base / (1 - base)) + self._driver(team, day, "change_failure_rate")
        return 1 / (1 + math.exp(-logit))

    def cycle_median_hours(self, team: str, day: date) -> float:
        return BASE["cycle_time_hours"] * math.exp(self._driver(team, day, "cycle_time_hours"))

    def restore_median_hours(self, team: str, day: date) -> float:
        return BASE["mttr_hours"] * math.exp(self._driver(team, day, "mttr_hours"))

    def expected(self) -> dict[str, str]:
        return {t: s.expected for t, s in sorted(self.scenarios.items())}

    def truth(self) -> dict[str, dict]:
        return {t: s.truth() for t, s in sorted(self.scenarios.items())}
