"""Usage against delivery within a team: raw, detrended and differenced rank correlations, surrogate p-values,
Holm's correction, intervals that are never NaN, determinism, and the verdict rule and its words."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata, spearmanr

from copilot_finops.delivery import stats as st, verdict as dv


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(5)
    for _ in range(20):
        x = rng.integers(0, 4, 15).astype(float)  # many ties, like weekly failure counts
        y = rng.normal(size=15)
        assert st.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_detrended_rho_is_the_partial_rank_correlation_given_the_week():
    rng = np.random.default_rng(8)
    t = np.arange(17, dtype=float)
    x, y = t + rng.normal(scale=3, size=17), -t + rng.normal(scale=3, size=17)
    design = np.column_stack([np.ones(17), rankdata(t)])

    def residual(v):
        r = rankdata(v)
        return r - design @ np.linalg.lstsq(design, r, rcond=None)[0]

    expected = np.corrcoef(residual(x), residual(y))[0, 1]
    assert st.detrended_spearman(x, y, t) == pytest.approx(expected, abs=1e-12)
    assert st.differenced_spearman(x, y) == pytest.approx(spearmanr(np.diff(x), np.diff(y)).statistic, abs=1e-12)


def test_a_shared_trend_shows_in_the_raw_rho_and_not_once_removed():
    """Adoption ramps and failures drift, independently: the raw relation is clear, the detrended one is not."""
    rng = np.random.default_rng(21)
    weeks = np.arange(20, dtype=float)
    usage = 20 + 2 * weeks + rng.normal(scale=2, size=20)
    failures = 0.05 + 0.012 * weeks + rng.normal(scale=0.02, size=20)
    c = st.correlate(usage, failures)
    assert c["spearman"] > 0.8 and c["ci_low"] > 0  # what the old verdict read
    assert abs(c["detrended"]) < 0.5 and c["p_value"] > 0.05
    assert c["detrended_ci_low"] < 0 < c["detrended_ci_high"]


def test_heavier_weeks_with_more_failures_show_once_trends_are_removed():
    rng = np.random.default_rng(4)
    weeks = np.arange(20, dtype=float)
    swing = rng.normal(scale=1.0, size=20)
    usage = 20 + 2 * weeks + 4 * swing
    failures = 0.3 - 0.01 * weeks + 0.05 * swing + rng.normal(scale=0.02, size=20)  # falls over time, yet ...
    c = st.correlate(usage, failures)
    assert c["detrended"] > 0.6 and c["p_value"] < 0.01 and c["detrended_ci_low"] > 0  # ... up in heavier weeks
    assert c["differenced"] > 0


def test_surrogates_keep_the_autocorrelation_and_p_values_are_seeded():
    rng = np.random.default_rng(0)
    a = np.cumsum(rng.normal(size=17))  # a slow series: most of its power at low frequencies
    s = st.phase_surrogates(a, 200, rng)
    periodogram = np.abs(np.fft.rfft(a - a.mean())) ** 2
    assert np.allclose(np.abs(np.fft.rfft(s, axis=1)) ** 2, periodogram[None, :])
    assert not np.allclose(s[0], s[1])  # the phases differ, so the series do
    x, y, t = rng.normal(size=17), rng.normal(size=17), np.arange(17.0)
    p = st.permutation_p(x, y, t)
    assert p == st.permutation_p(x, y, t) and 1 / (st.N_PERM + 1) <= p <= 1
    assert st.permutation_p(x, y, t, random_state=1) != p or p == 1


def test_intervals_are_never_nan_and_say_why_they_are_missing():
    x = pd.Series([1, 3, 2, 5, 4, 6, 9, 7, 8], dtype=float)
    y = pd.Series([2, 1, 4, np.nan, 6, 5, 8, 7, 9], dtype=float)
    full = st.correlate(x, y)
    along_the_weeks = st.correlate(np.arange(9.0), y)  # usage that only trends: nothing left once removed
    assert along_the_weeks["p_value"] is None and "flat" in along_the_weeks["note"]
    assert full["n"] == 8 and full["ci_low"] is not None and full["p_value"] is not None
    short = st.correlate(x[:7], y[:7])
    assert short["n"] == 6 and short["spearman"] is not None and short["ci_low"] is None
    assert "at least 8" in short["note"]
    flat = st.correlate(np.arange(10.0), np.zeros(10))
    assert flat["spearman"] is None and "did not vary" in flat["note"]
    for c in (full, short, flat, st.correlate(x[:2], y[:2])):
        assert all(not (isinstance(v, float) and v != v) for v in c.values())


def test_the_same_figures_added_in_another_order_give_the_same_result():
    """Float sums that differ in their last bits (parallel DuckDB) must not move a rank or a draw."""
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=17), 1) + 1.0  # ties, as weekly shares often have
    y = rng.normal(size=17)
    nudged = x * (1 + 1e-15)
    assert st.correlate(x, y) == st.correlate(nudged, y)


def test_holm_adjusts_for_the_metrics_tested():
    adjusted = st.holm({"a": 0.01, "b": 0.04, "c": None, "d": 0.03})
    assert adjusted == {"a": 0.03, "b": 0.06, "c": None, "d": 0.06}


def _c(detrended, p, differenced=None, n=17, spearman=None, p_differenced=None):
    return {"spearman": detrended if spearman is None else spearman, "ci_low": None, "ci_high": None,
            "detrended": detrended, "detrended_ci_low": None, "detrended_ci_high": None,
            "differenced": detrended if differenced is None else differenced, "p_value": p,
            "differenced_p_value": p if p_differenced is None else p_differenced, "n": n, "note": None}


NONE = _c(0.05, 0.8)
TREND = {"spearman": 0.9, "ci_low": 0.7, "ci_high": 0.97, "n": 17, "note": None}
FLAT = {"spearman": 0.05, "ci_low": -0.4, "ci_high": 0.5, "n": 17, "note": None}


def test_too_few_developers_or_weeks_is_insufficient_data_with_its_reason():
    few = dv.decide(17, 4, TREND, {"change_failure_rate": _c(0.8, 0.001)})
    assert few["verdict"] == "insufficient_data" and "fewer than 5 developers" in few["reason"]
    short = dv.decide(7, 12, TREND, {"change_failure_rate": _c(0.8, 0.001)})
    assert short["verdict"] == "insufficient_data" and "fewer than 8 weeks" in short["reason"]


@pytest.mark.parametrize("trend, same_week, verdict", [
    (FLAT, {"change_failure_rate": _c(0.6, 0.005), "mttr_hours": NONE, "cycle_time_hours": NONE}, "tighten"),
    (TREND, {"change_failure_rate": NONE, "mttr_hours": _c(0.7, 0.004), "cycle_time_hours": NONE}, "tighten"),
    (TREND, {"change_failure_rate": _c(0.6, 0.005), "mttr_hours": NONE, "cycle_time_hours": _c(-0.6, 0.01)}, "tighten"),
    (FLAT, {"change_failure_rate": _c(-0.6, 0.005), "mttr_hours": NONE, "cycle_time_hours": _c(-0.7, 0.002)}, "scaling"),
    (TREND, {"change_failure_rate": NONE, "mttr_hours": NONE, "cycle_time_hours": _c(-0.7, 0.002)}, "scaling"),
    # longer cycle times alone do not tighten, and block a scaling case
    (TREND, {"change_failure_rate": NONE, "mttr_hours": NONE, "cycle_time_hours": _c(0.7, 0.002)}, "inconclusive"),
    (TREND, {"change_failure_rate": _c(-0.6, 0.005), "mttr_hours": NONE, "cycle_time_hours": _c(0.7, 0.002)},
     "inconclusive"),
    # Holm: 0.04 alone would pass, not once three metrics are tested (0.12)
    (TREND, {"change_failure_rate": _c(0.5, 0.04), "mttr_hours": _c(0.1, 0.5), "cycle_time_hours": _c(0.1, 0.6)},
     "inconclusive"),
    # week-to-week changes pointing the other way: a bent trend, not a relation
    (TREND, {"change_failure_rate": _c(0.6, 0.004, differenced=-0.2), "mttr_hours": NONE, "cycle_time_hours": NONE},
     "inconclusive"),
    # the same way but not clearly: the relation must hold in both views (the larger p-value counts)
    (TREND, {"change_failure_rate": _c(0.6, 0.004, differenced=0.3, p_differenced=0.3), "mttr_hours": NONE,
             "cycle_time_hours": NONE}, "inconclusive"),
    (FLAT, {"change_failure_rate": _c(0.7, 0.002, differenced=0.55, p_differenced=0.01), "mttr_hours": NONE,
            "cycle_time_hours": NONE}, "tighten"),
    # clear but too weak to act on (a long window): under MIN_RHO in one view
    (TREND, {"change_failure_rate": _c(0.5, 0.001, differenced=0.25, p_differenced=0.001), "mttr_hours": NONE,
             "cycle_time_hours": NONE}, "inconclusive"),
    (TREND, {"change_failure_rate": _c(None, None, n=5), "mttr_hours": _c(None, None, n=3),
             "cycle_time_hours": _c(None, None, n=4)}, "inconclusive"),
])
def test_the_rule(trend, same_week, verdict):
    out = dv.decide(17, 12, trend, same_week)
    assert out["verdict"] == verdict, out["reason"]
    assert out["reason"] and len(out["evidence"]) == 1 + len(dv.VERDICT_METRICS)
    text = " ".join([out["reason"], *out["evidence"]])
    assert not re.search(r"\bnan\b", text, re.I)


def test_the_reason_follows_from_the_readings_printed_beside_it():
    same = {"change_failure_rate": _c(-0.2, 0.4, spearman=-0.7), "mttr_hours": NONE,
            "cycle_time_hours": _c(-0.7, 0.002)}
    out = dv.decide(17, 12, TREND, same)
    assert out["verdict"] == "scaling" and out["reading"]["change_failure_rate"] == "unclear"
    assert "failed deployments" not in out["reason"] and "shorter cycle times" in out["reason"]
    cfr = next(e for e in out["evidence"] if e.startswith("Change failure rate"))
    assert "No clear relation with usage once trends are removed" in cfr
    for metric, reading in out["reading"].items():
        sentence = next(e for e in out["evidence"] if e.startswith(dv.label(metric)))
        assert ("no clear relation" in sentence.lower()) == (reading == "unclear")
    assert "Correlation is not causation" in dv.CAVEAT
