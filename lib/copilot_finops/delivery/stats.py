"""Rank correlation of weekly usage with weekly delivery, with lags, bootstrap intervals and adoption tiers.

Intervals are bootstrap percentile intervals over weeks (pairs of weekly figures resampled with
replacement, seeded). They are 90 % intervals: a verdict is a prompt for a conversation with a
team, and with a few months of weekly figures a 95 % bar is rarely cleared even by relations a
team would want to act on. Limit: neighbouring weeks are alike, which resampling single weeks
ignores and which narrows the interval a little; `block` > 1 resamples runs of consecutive
weeks instead (a moving-block bootstrap), wider and more cautious.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

MIN_PAIRS = 8  # fewer weeks than this and a correlation is shown without an interval, and never used
LAGS = (0, 1, 2)
CONFIDENCE = 0.90  # read at call time, like BLOCK and N_BOOT, so one place sets them for every caller
BLOCK = 1
N_BOOT = 2000
ADOPTION_TIERS = ((0.0, 0.25, "<25%"), (0.25, 0.5, "25-50%"), (0.5, 0.75, "50-75%"), (0.75, 1.01, ">=75%"))


def _row_ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) along the last axis; for short series, no sort needed."""
    less = (a[..., None, :] < a[..., :, None]).sum(axis=-1)
    equal = (a[..., None, :] == a[..., :, None]).sum(axis=-1)
    return less + (equal + 1) / 2


def _resampled_spearman(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Spearman's rho of each resample, given how often each week was drawn (`counts`, resamples x weeks).

    A drawn week's rank within its resample is the number of drawn weeks below it plus half
    the drawn weeks tied with it (and a half): matrix products instead of a sort per resample.
    """
    def ranks(v):
        below = (v[:, None] < v[None, :]).astype(float)
        tied = (v[:, None] == v[None, :]).astype(float)
        return counts @ below + (counts @ tied + 1) / 2

    rx, ry = ranks(x), ranks(y)
    total = counts.sum(axis=1, keepdims=True)
    dx = rx - (counts * rx).sum(axis=1, keepdims=True) / total
    dy = ry - (counts * ry).sum(axis=1, keepdims=True) / total
    denom = np.sqrt((counts * dx * dx).sum(axis=1) * (counts * dy * dy).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (counts * dx * dy).sum(axis=1) / denom, np.nan)


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=-1) / denom, np.nan)


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN if either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(_row_pearson(_row_ranks(x), _row_ranks(y)))


def bootstrap_interval(x, y, n_boot: int | None = None, confidence: float | None = None, block: int | None = None,
                       random_state: int = 0) -> tuple[float, float]:
    """Bootstrap percentile interval of Spearman's rho for paired weekly series.

    Resamples `n_boot` times runs of `block` consecutive weeks (1: single weeks). Returns
    (low, high); NaN when most resamples are degenerate (a constant series).
    """
    n_boot = N_BOOT if n_boot is None else n_boot
    confidence = CONFIDENCE if confidence is None else confidence
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    block = max(1, min(BLOCK if block is None else block, n))
    rng = np.random.default_rng(random_state)
    starts = rng.integers(0, n - block + 1, size=(n_boot, math.ceil(n / block)))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :n]
    counts = np.bincount((idx + n * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n).reshape(n_boot, n)
    rho = _resampled_spearman(x, y, counts.astype(float))
    rho = rho[~np.isnan(rho)]
    if len(rho) < n_boot / 2:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(rho, [tail, 100 - tail])
    return float(lo), float(hi)


def correlate(x, y, n_boot: int | None = None, confidence: float | None = None, block: int | None = None,
              random_state: int = 0) -> dict:
    """rho, interval (None below MIN_PAIRS weeks) and n over the weeks where both series have a value."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    both = ~(np.isnan(x) | np.isnan(y))
    x, y, n = x[both], y[both], int(both.sum())
    if n < 3:
        return {"spearman": None, "ci_low": None, "ci_high": None, "n": n}
    rho = spearman(x, y)
    lo = hi = float("nan")
    if n >= MIN_PAIRS and not math.isnan(rho):
        lo, hi = bootstrap_interval(x, y, n_boot, confidence, block, random_state)

    def clean(v):
        return None if v is None or math.isnan(v) else round(v, 3)

    return {"spearman": clean(rho), "ci_low": clean(lo), "ci_high": clean(hi), "n": n}


def lagged_correlations(frame: pd.DataFrame, usage_measures, delivery_metrics, lags=LAGS,
                        n_boot: int | None = None, confidence: float | None = None, block: int | None = None,
                        random_state: int = 0) -> pd.DataFrame:
    """Spearman's rho of usage in week t with delivery in week t + lag, for every pair and lag.

    `frame` has one row per consecutive week. Returns one row per (usage_measure,
    delivery_metric, lag_weeks) with spearman, ci_low, ci_high (None when fewer than MIN_PAIRS
    weeks) and n.
    """
    rows = []
    for u in usage_measures:
        for m in delivery_metrics:
            for lag in lags:
                x = frame[u].to_numpy(dtype=float)[: len(frame) - lag]
                y = frame[m].to_numpy(dtype=float)[lag:]
                rows.append({"usage_measure": u, "delivery_metric": m, "lag_weeks": lag,
                             **correlate(x, y, n_boot, confidence, block, random_state)})
    return pd.DataFrame(rows, columns=["usage_measure", "delivery_metric", "lag_weeks", "spearman", "ci_low", "ci_high", "n"])


def trend(series, n_boot: int | None = None, confidence: float | None = None, block: int | None = None,
          random_state: int = 0) -> dict:
    """How a weekly series moves over the window: Spearman's rho with the week number, and its interval."""
    return correlate(np.arange(len(series), dtype=float), series, n_boot, confidence, block, random_state)


def adoption_tiers(frame: pd.DataFrame, delivery_metrics, share_column: str = "adoption_share") -> pd.DataFrame:
    """Delivery by adoption tier, as DevLake's Copilot dashboard does, within one team.

    Weeks are grouped by the share of members active on an average workday (<25 %, 25-50 %,
    50-75 %, >=75 %). Each tier shows its number of weeks; the change failure rate pooled over
    its weeks' deployments (failed / deployments, so a quiet week does not weigh like a busy one),
    deployments per week as a mean, and the other metrics as the median of the weekly figures.
    """
    rows = []
    for lo, hi, label in ADOPTION_TIERS:
        in_tier = frame[(frame[share_column] >= lo) & (frame[share_column] < hi)]
        row = {"adoption_tier": label, "weeks": int(len(in_tier))}
        for m in delivery_metrics:
            vals = in_tier[m].dropna()
            if m == "change_failure_rate" and {"failed_deployments", "deployment_frequency"} <= set(frame.columns):
                deployed = in_tier["deployment_frequency"].sum()
                row[m] = float(in_tier["failed_deployments"].sum() / deployed) if deployed > 0 else None
            elif m == "deployment_frequency":
                row[m] = float(vals.mean()) if len(vals) else None
            else:
                row[m] = float(vals.median()) if len(vals) else None
        rows.append(row)
    return pd.DataFrame(rows)
