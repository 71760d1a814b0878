"""An independent check of the delivery verdict on weekly team series built by hand here, not by the demo generator.

The demo generator draws its confounders and effects one way (logit and log drifts, i.i.d. weekly usage
shocks, PR and deployment simulations). The product is judged on orgs built by another hand, so this
module builds 16-week team series another way and runs the real statistics and rule on them
(`stats.correlate` for each metric, `verdict.decide`):

- Usage: an adoption curve (a step such as an onboarding push, a saturating or an accelerating curve,
  an S-curve or a straight rise) plus a week-to-week swing that is AR(1), not independent weeks.
- Confounded teams: the metrics follow curves of their own or the SAME curve as usage (one event moves
  both: a CI speed-up in the week of an onboarding push), plus AR(1) noise; usage has no effect.
- Flat teams: swings and AR(1) noise only.
- Effect teams: a confounder as above, and the metric answers the usage swing; kept when the weekly
  Spearman of the swing with the metric's own part (effect plus noise) is in the band named, i.e. the
  within-team relation the draw actually got.

What a correct method must show: confounded and flat teams almost never get `scaling` or `tighten`
(the verdict's family-wise error is 10 % at most; requiring the relation in both the detrended and the
week-to-week view brings it well under that), and effects get the right verdict about two times in three when
they are clear (weekly Spearman about 0.75), and at least sometimes at the moderate size of about 0.6,
which 16 weeks, three metrics and Holm's correction leave at the edge of what can be told from chance
(the figures per rule are in the note of issue 14). The seed is fixed so a failure can be replayed;
`python tests/test_delivery_handmade.py SEED SCALE` prints the counts for other seeds and more teams.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from copilot_finops.delivery import stats, verdict

WEEKS = 16
SHAPES = ("step", "saturating", "accelerating", "s-curve", "straight")
METRICS = ("change_failure_rate", "cycle_time_hours", "mttr_hours")
SEED = 14


def _ar1(rng: np.random.Generator, phi: float) -> np.ndarray:
    """A stationary AR(1) series of unit variance over WEEKS weeks."""
    out = np.empty(WEEKS)
    out[0] = rng.normal()
    for i in range(1, WEEKS):
        out[i] = phi * out[i - 1] + rng.normal(scale=np.sqrt(1 - phi ** 2))
    return out


def _curve(rng: np.random.Generator) -> np.ndarray:
    """A confounding path from 0 to about 1 over the window, of a shape drawn from SHAPES."""
    shape, w = SHAPES[rng.integers(len(SHAPES))], np.linspace(0, 1, WEEKS)
    if shape == "step":
        return (np.arange(WEEKS) >= rng.integers(4, WEEKS - 4)).astype(float)
    if shape == "saturating":
        return 1 - np.exp(-w / rng.uniform(0.15, 0.4))
    if shape == "accelerating":
        return w ** rng.uniform(2, 3.5)
    if shape == "s-curve":
        return 1 / (1 + np.exp(-14 * (w - rng.uniform(0.3, 0.7))))
    return w


def _team(rng: np.random.Generator, kind: str, effect_rho: float = 0.6):
    """(usage, {metric: weekly series}, realized within-team Spearman of the effect or None) of one team.

    kind: 'confounded', 'flat', 'tighten' (more failures in heavier weeks) or 'scaling' (fewer failures
    and shorter cycle times)."""
    swing = _ar1(rng, rng.uniform(0.2, 0.7))
    shared = _curve(rng)
    rising = 0.0 if kind == "flat" else rng.uniform(1.0, 2.0)
    usage = np.exp(3 + 0.35 * (rising * shared + 0.6 * swing))  # outputs per developer-day, say
    affected = {"tighten": ("change_failure_rate",), "scaling": ("change_failure_rate", "cycle_time_hours")}.get(kind, ())
    series, realized = {}, None
    for metric in METRICS:
        drift = 0.0 if kind == "flat" else (
            rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.5) * (shared if rng.random() < 0.5 else _curve(rng)))
        own = _ar1(rng, rng.uniform(0.2, 0.7))
        if metric in affected:  # corr(swing, beta * swing + noise) = effect_rho for unit variances
            own = (1 if kind == "tighten" else -1) * effect_rho / np.sqrt(1 - effect_rho ** 2) * swing + own
            if metric == "change_failure_rate":
                realized = abs(spearmanr(swing, own).statistic)
        latent = drift + own
        series[metric] = {"change_failure_rate": 1 / (1 + np.exp(-(-1.8 + 0.4 * latent))),
                          "cycle_time_hours": 24 * np.exp(0.3 * latent), "mttr_hours": 3 * np.exp(0.4 * latent)}[metric]
    return usage, series, realized


def _teams(rng: np.random.Generator, kind: str, count: int, band=None, effect_rho: float = 0.6) -> list:
    out = []
    while len(out) < count:
        usage, series, realized = _team(rng, kind, effect_rho)
        if band is None or band[0] <= realized <= band[1]:
            out.append((usage, series))
    return out


def _verdict(usage: np.ndarray, series: dict) -> str:
    """The real statistics and rule on one team (12 developers, every week with figures). The raw rho's
    bootstrap interval, which the verdict does not read, is drawn 200 times instead of 2000 to keep this fast."""
    same_week = {m: stats.correlate(usage, y, n_boot=200) for m, y in series.items()}
    trend = {"spearman": stats.spearman(np.arange(WEEKS), usage), "ci_low": None, "ci_high": None, "n": WEEKS,
             "note": "not drawn here"}  # the verdict only describes it
    return verdict.decide(WEEKS, 12, trend, same_week)["verdict"]


# label -> (kind, teams drawn for the test, band of the realized within-team Spearman, effect rho)
PLAN = {"confounded": ("confounded", 100, None, 0.6), "flat": ("flat", 30, None, 0.6),
        "tighten": ("tighten", 30, (0.5, 0.7), 0.6), "scaling": ("scaling", 30, (0.5, 0.7), 0.6),
        "clear tighten": ("tighten", 15, (0.7, 0.85), 0.75), "clear scaling": ("scaling", 15, (0.7, 0.85), 0.75)}


def draw_verdicts(seed: int = SEED, scale: int = 1) -> dict[str, list[str]]:
    """The verdict of every team of PLAN (`scale` times as many), drawn from `seed`."""
    rng = np.random.default_rng(seed)
    return {label: [_verdict(u, s) for u, s in _teams(rng, kind, count * scale, band, rho)]
            for label, (kind, count, band, rho) in PLAN.items()}


@pytest.fixture(scope="module")
def verdicts() -> dict[str, list[str]]:
    return draw_verdicts()


def _given(found: list[str]) -> int:
    return sum(v in ("scaling", "tighten") for v in found)


def test_confounded_and_flat_teams_almost_never_get_a_verdict(verdicts):
    """Shared steps and curves, AR(1) noise, no effect: any verdict here is a false one. The rule's family-wise
    error is 10 % at most per team, and needing both views brings it well under that (about 4 % measured over
    four times these draws); reading the detrended view alone gives about 14 % on these series."""
    assert _given(verdicts["confounded"]) <= 7, verdicts["confounded"]  # of 100
    assert _given(verdicts["flat"]) <= 3, verdicts["flat"]  # of 30: the nominal level


def test_effects_get_the_right_verdict_and_seldom_the_opposite_one(verdicts):
    """Weekly Spearman about 0.6 over 16 weeks is at the edge of what three metrics under Holm's correction
    can tell from chance (about a third right, measured over four times these draws), about 0.75 is not
    (about two in three). A verdict the wrong way round comes from a metric the effect does not touch, read
    as worse (or better) by chance: Holm tests the last metric at the full 10 % once the others are clear,
    so it happens about as often as a false verdict on a confounded team, and no more."""
    moderate = verdicts["tighten"] + verdicts["scaling"]
    right = sum(v == k for k in ("tighten", "scaling") for v in verdicts[k])
    assert right >= 0.2 * len(moderate), verdicts
    clear = sum(v == k for k in ("tighten", "scaling") for v in verdicts[f"clear {k}"])
    assert clear >= 0.5 * (len(verdicts["clear tighten"]) + len(verdicts["clear scaling"])), verdicts
    wrong_way = sum(v == other for k, other in (("tighten", "scaling"), ("scaling", "tighten"))
                    for label in (k, f"clear {k}") for v in verdicts[label])
    assert wrong_way <= 0.07 * sum(len(verdicts[k]) for k in PLAN if k not in ("confounded", "flat")), verdicts


if __name__ == "__main__":  # python tests/test_delivery_handmade.py [seed] [scale]: the counts per kind of team
    import sys

    for label, found in draw_verdicts(*(int(a) for a in sys.argv[1:3])).items():
        print(f"{label:<14} {len(found):>4} teams: " + ", ".join(f"{v} {found.count(v)}" for v in sorted(set(found))))
