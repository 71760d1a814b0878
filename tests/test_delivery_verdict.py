"""Rank correlations with lags and bootstrap intervals, adoption tiers, and the verdict rule."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from copilot_finops.delivery import stats as st, verdict as dv


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(5)
    for _ in range(20):
        x = rng.integers(0, 4, 15).astype(float)  # many ties, like weekly failure counts
        y = rng.normal(size=15)
        assert st.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    x = np.arange(20, dtype=float)
    y = x + rng.normal(scale=6, size=20)
    c = st.correlate(x, y)
    assert c["n"] == 20 and c["ci_low"] <= c["spearman"] <= c["ci_high"]
    assert st.correlate(x, y) == c  # same random_state, same interval
    other = st.correlate(x, y, random_state=1)
    assert other["spearman"] == c["spearman"] and other["ci_low"] != c["ci_low"]
    wider = st.correlate(x, y, confidence=0.99)
    assert wider["ci_low"] <= c["ci_low"] and wider["ci_high"] >= c["ci_high"]
    assert st.correlate(x, 2 * x)["ci_low"] == 1.0  # a monotone relation stays one in every resample


def test_correlation_drops_missing_weeks_and_gives_no_interval_below_eight():
    x = pd.Series([1, 2, 3, 4, 5, 6, 7, 8, 9], dtype=float)
    y = pd.Series([2, 1, 4, np.nan, 6, 5, 8, 7, 9], dtype=float)
    c = st.correlate(x, y)
    assert c["n"] == 8 and c["ci_low"] is not None
    short = st.correlate(x[:7], y[:7])
    assert short["n"] == 6 and short["spearman"] is not None and short["ci_low"] is None
    assert st.correlate(x[:2], y[:2])["spearman"] is None


def test_lags_pair_usage_with_later_delivery():
    rng = np.random.default_rng(2)
    usage = rng.normal(size=16)
    frame = pd.DataFrame({"usage": usage, "cfr": np.r_[np.nan, usage[:-1]]})  # delivery follows usage by a week
    corr = st.lagged_correlations(frame, ["usage"], ["cfr"]).set_index("lag_weeks")
    assert corr.loc[1, "spearman"] == pytest.approx(1.0) and corr.loc[1, "n"] == 15
    assert abs(corr.loc[0, "spearman"]) < 0.9 and corr.loc[2, "n"] == 14


def test_adoption_tiers_group_weeks_and_pool_failures():
    frame = pd.DataFrame({
        "adoption_share": [0.1, 0.3, 0.6, 0.8, 0.9],
        "deployment_frequency": [2, 4, 5, 10, 0],
        "failed_deployments": [1, 1, 1, 2, 0],
        "change_failure_rate": [0.5, 0.25, 0.2, 0.2, np.nan],
        "cycle_time_hours": [30, 20, 25, 10, 14],
    })
    tiers = st.adoption_tiers(frame, ["deployment_frequency", "change_failure_rate", "cycle_time_hours"])
    top = tiers.set_index("adoption_tier").loc[">=75%"]
    assert tiers["weeks"].tolist() == [1, 1, 1, 2]
    assert top["change_failure_rate"] == pytest.approx(2 / 10)  # pooled: a week without deploys weighs nothing
    assert top["deployment_frequency"] == pytest.approx(5.0) and top["cycle_time_hours"] == pytest.approx(12.0)


def _c(rho, lo, hi, n=17):
    return {"spearman": rho, "ci_low": lo, "ci_high": hi, "n": n}


RISING = _c(0.9, 0.7, 0.97)
FLAT = _c(0.1, -0.3, 0.5)
UNCLEAR = _c(0.1, -0.4, 0.5)


def test_too_few_developers_or_weeks_is_insufficient_data_with_its_reason():
    few = dv.decide(17, 4, RISING, {"change_failure_rate": _c(-0.8, -0.9, -0.6)})
    assert few["verdict"] == "insufficient_data" and "fewer than 5 developers" in few["reason"]
    assert few["evidence"]
    short = dv.decide(7, 12, RISING, {"change_failure_rate": _c(-0.8, -0.9, -0.6)})
    assert short["verdict"] == "insufficient_data" and "fewer than 8 weeks" in short["reason"]


@pytest.mark.parametrize("trend, same_week, verdict", [
    (RISING, {"change_failure_rate": _c(-0.6, -0.8, -0.3), "mttr_hours": UNCLEAR, "cycle_time_hours": UNCLEAR}, "scaling"),
    (RISING, {"change_failure_rate": _c(-0.3, -0.6, 0.1), "mttr_hours": UNCLEAR,
              "cycle_time_hours": _c(-0.7, -0.9, -0.4)}, "scaling"),
    (RISING, {"change_failure_rate": _c(0.6, 0.3, 0.8), "mttr_hours": UNCLEAR, "cycle_time_hours": UNCLEAR}, "tighten"),
    (RISING, {"change_failure_rate": UNCLEAR, "mttr_hours": _c(0.7, 0.2, 0.9, 10), "cycle_time_hours": UNCLEAR}, "tighten"),
    (FLAT, {"change_failure_rate": _c(0.6, 0.3, 0.8), "mttr_hours": UNCLEAR, "cycle_time_hours": UNCLEAR}, "inconclusive"),
    (RISING, {"change_failure_rate": _c(-0.6, -0.8, -0.3), "mttr_hours": _c(0.7, 0.2, 0.9),
              "cycle_time_hours": UNCLEAR}, "inconclusive"),  # mixed
    (RISING, {"change_failure_rate": _c(0.2, -0.2, 0.5), "mttr_hours": UNCLEAR,
              "cycle_time_hours": _c(-0.7, -0.9, -0.4)}, "inconclusive"),  # faster, but failures not down
    (RISING, {"change_failure_rate": UNCLEAR, "mttr_hours": UNCLEAR, "cycle_time_hours": UNCLEAR}, "inconclusive"),
])
def test_the_rule(trend, same_week, verdict):
    out = dv.decide(17, 12, trend, same_week)
    assert out["verdict"] == verdict, out["reason"]
    assert out["reason"] and len(out["evidence"]) == 1 + len(dv.QUALITY_METRICS)


def test_verdict_from_weekly_series_end_to_end():
    """Usage rising with failures falling reads as scaling; the same usage beside noise does not."""
    rng = np.random.default_rng(11)
    weeks = np.arange(20, dtype=float)
    usage = 20 + 2 * weeks + rng.normal(scale=2, size=20)
    falling = np.clip(0.35 - 0.015 * weeks + rng.normal(scale=0.04, size=20), 0, 1)
    frame = pd.DataFrame({"usage": usage, "change_failure_rate": falling,
                          "mttr_hours": rng.normal(4, 1, 20), "cycle_time_hours": rng.normal(24, 3, 20),
                          "noise": rng.normal(0.15, 0.05, 20)})
    corr = st.lagged_correlations(frame, ["usage"], ["change_failure_rate", "mttr_hours", "cycle_time_hours", "noise"])
    same = {r.delivery_metric: r._asdict() for r in corr[corr["lag_weeks"] == 0].itertuples()}
    assert dv.decide(20, 10, st.trend(frame["usage"]), same)["verdict"] == "scaling"
    same["change_failure_rate"] = same.pop("noise")
    assert dv.decide(20, 10, st.trend(frame["usage"]), same)["verdict"] != "scaling"
    assert "Correlation is not causation" in dv.CAVEAT
