"""Usage against delivery within one team, week by week: raw and detrended rank correlations, intervals
and p-values that respect autocorrelation, Holm's correction, lags, adoption tiers.

Why detrended. Adoption ramps over months while hiring, a CI speed-up or a growing codebase move
delivery on their own; two series that both trend correlate whether or not one affects the other.
The relation the verdict reads is therefore the partial rank correlation of usage and the metric
given the week number (Spearman's rho of the two after removing each one's linear trend in rank):
do the weeks with more usage than the team's trend predicts also have more failures than its
trend predicts? The raw rho is shown beside it, so the reader sees what the trend did, and the rho
of week-to-week changes (first differences), which the verdict needs as well.

Two views, both required. A relation the verdict acts on must show in both: in the weeks around
each series' straight trend (detrended) and in the week-to-week changes (differenced). A linear
time term leaves a step (a CI speed-up, a reorganisation) or a curve (S-shaped adoption, growth)
behind in both series, and two left-over curves correlate by chance; differencing removes levels,
steps (but for their one week) and slow curves, yet throws away what persists over weeks. Each
guards the other: the verdict's p-value for a metric is the larger of the two (an intersection-union
test, whose level is still the level of each test).

Intervals and p-values. Neighbouring weeks are alike, so a p-value that treats weeks as exchangeable
is too small when both series move slowly. Each p-value comes from random-phase surrogates of the
usage side (Ebisuzaki 1997): series with the same periodogram, hence the same autocorrelation, as the
detrended usage ranks (or the ranks of its week-to-week changes), but phases drawn at random, so
their relation with the metric is chance alone. A slow left-over curve in usage thereby brings a wide
null and a large p-value, and week-to-week swings a narrow one. The detrended rho's interval is the
rho plus or minus the surrogate null's spread on Fisher's z scale, so interval and p-value agree.
The raw rho's interval is a moving-block bootstrap percentile interval (blocks of about n^(1/3)
weeks). Randomness is seeded (`random_state`); inputs are rounded to 9 decimals first, so float sums
that differ in their last bits (DuckDB adds in parallel) cannot move a rank.
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

MIN_PAIRS = 8  # fewer weeks than this with both values and no interval, p-value or verdict is drawn
LAGS = (0, 1, 2)
# A verdict is a prompt for a conversation with a team, so its family-wise error rate over the metrics
# it reads (Holm) is 10 %, and intervals are shown at the matching 90 %. Requiring the detrended and the
# differenced relation both (see above) brings the rate at which a team with no relation gets a verdict
# well under that nominal 10 %, at some cost in power (figures: the note of issue 14, evaluate-delivery
# and tests/test_delivery_handmade.py).
CONFIDENCE = 0.90  # of every interval shown; read at call time so one place sets it
ALPHA = 0.10  # family-wise error rate over the metrics a verdict reads (Holm)
N_BOOT = 2000
N_PERM = 2000  # surrogate series per p-value
DECIMALS = 9
ADOPTION_TIERS = ((0.0, 0.25, "<25%"), (0.25, 0.5, "25-50%"), (0.5, 0.75, "50-75%"), (0.75, 1.01, ">=75%"))


def stable(values) -> np.ndarray:
    """Float array rounded to DECIMALS places: the same figure computed in another order ranks the same."""
    return np.round(np.asarray(values, dtype=float), DECIMALS)


def block_length(n: int) -> int:
    """Weeks per bootstrap block: about n^(1/3), at least 2 (neighbouring weeks move together)."""
    return max(2, round(n ** (1 / 3)))


def _row_ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) along the last axis; for short series, no sort needed."""
    less = (a[..., None, :] < a[..., :, None]).sum(axis=-1)
    equal = (a[..., None, :] == a[..., :, None]).sum(axis=-1)
    return less + (equal + 1) / 2


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def _detrend(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Residuals of `v` after its least-squares line on `t`."""
    tc = t - t.mean()
    slope = float((tc * (v - v.mean())).sum() / (tc * tc).sum()) if (tc * tc).sum() > 0 else 0.0
    return v - v.mean() - slope * tc


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN if either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return _pearson(_row_ranks(x), _row_ranks(y))


def detrended_spearman(x, y, t) -> float:
    """Partial Spearman correlation of x and y given t: the correlation of their ranks' residuals after
    each one's least-squares line on the rank of t. NaN when either residual is constant."""
    rt = _row_ranks(np.asarray(t, dtype=float))
    return _pearson(_detrend(_row_ranks(np.asarray(x, dtype=float)), rt),
                    _detrend(_row_ranks(np.asarray(y, dtype=float)), rt))


def differenced_spearman(x, y) -> float:
    """Spearman's rho of the week-to-week changes of x and y (consecutive pairs of the given weeks)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        return float("nan")
    return spearman(np.diff(x), np.diff(y))


def _block_indices(n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """`draws` rows of n week indices made of runs of consecutive weeks (a moving-block bootstrap):
    runs of `block_length(n)` weeks start anywhere, drawn with replacement."""
    block = min(block_length(n), n)
    k = math.ceil(n / block)
    starts = rng.integers(0, n - block + 1, size=(draws, k))
    return (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(draws, -1)[:, :n]


def _resampled_spearman(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Raw rho of each bootstrap row of week indices, ranks taken within the row (NaN for a flat row)."""
    rx, ry = _row_ranks(x[idx]), _row_ranks(y[idx])
    cx, cy = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    sxx, syy = (cx * cx).sum(1), (cy * cy).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sxx * syy > 0, (cx * cy).sum(1) / np.sqrt(sxx * syy), np.nan)


def _percentile(values: np.ndarray, confidence: float, draws: int) -> tuple[float | None, float | None]:
    values = values[~np.isnan(values)]
    if len(values) < draws / 2:
        return None, None
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return round(float(lo), 3), round(float(hi), 3)


def phase_surrogates(a: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """`draws` rows of random-phase surrogates of `a`: the same periodogram (so the same autocorrelation
    around the mean), each frequency's phase drawn uniformly; the mean and, for an even length, the
    Nyquist term stay as they are so every surrogate is real."""
    n = len(a)
    spectrum = np.fft.rfft(a - a.mean())
    phases = rng.uniform(0, 2 * np.pi, size=(draws, len(spectrum)))
    phases[:, 0] = 0.0
    if n % 2 == 0:
        phases[:, -1] = 0.0
    return np.fft.irfft(np.abs(spectrum)[None, :] * np.exp(1j * phases), n=n, axis=1)


def _surrogate_test(a: np.ndarray, b: np.ndarray, n_perm: int, rng: np.random.Generator) -> tuple[float, float] | None:
    """(two-sided p-value, spread of the null in Fisher z) of the correlation of a and b, `a`'s surrogates
    giving the null; None when either side is flat."""
    a, b = a - a.mean(), b - b.mean()
    norm = math.sqrt(float((a * a).sum() * (b * b).sum()))
    if norm <= 1e-12:
        return None
    observed = abs(float((a * b).sum()) / norm)
    s = phase_surrogates(a, n_perm, rng)
    s -= s.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        null = (s @ b) / np.sqrt((s * s).sum(axis=1) * float((b * b).sum()))
    null = null[~np.isnan(null)]
    p = (1 + np.count_nonzero(np.abs(null) >= observed - 1e-12)) / (1 + len(null))
    return float(p), float(np.std(np.arctanh(np.clip(null, -0.999, 0.999))))


def _tests(x: np.ndarray, y: np.ndarray, t: np.ndarray, n_perm: int, random_state: int) -> dict:
    """The detrended test (p, null spread) and the differenced test (p) of x and y; None where a side is flat."""
    rng = np.random.default_rng(random_state)
    rt = _row_ranks(t)
    detrended = _surrogate_test(_detrend(_row_ranks(x), rt), _detrend(_row_ranks(y), rt), n_perm, rng)
    dx, dy = np.diff(x), np.diff(y)
    differenced = (_surrogate_test(_row_ranks(dx), _row_ranks(dy), n_perm, rng)
                   if len(dx) >= 3 and np.ptp(dx) > 0 and np.ptp(dy) > 0 else None)
    return {"detrended": detrended, "differenced": differenced}


def permutation_p(x, y, t, n_perm: int | None = None, random_state: int = 0, differenced: bool = False) -> float | None:
    """Two-sided p-value of the detrended rho (or, `differenced`, of the rho of week-to-week changes) from
    random-phase surrogates of the usage side (see the module docstring).

    None when a detrended (differenced) series is constant. The smallest p-value is 1 / (n_perm + 1).
    """
    found = _tests(*(np.asarray(v, dtype=float) for v in (x, y, t)), N_PERM if n_perm is None else n_perm,
                   random_state)["differenced" if differenced else "detrended"]
    return None if found is None else found[0]


def _fisher_interval(r: float, spread: float, confidence: float) -> tuple[float, float]:
    """r's interval on the Fisher z scale with the surrogate null's spread as its standard error.

    The null's spread says how far the detrended rho wanders by chance given these weeks and their
    autocorrelation, so the interval and the surrogate p-value tell one story: the interval
    leaves out zero about when p < 1 - confidence.
    """
    # the standard library's normal quantile: scipy.stats would cost a report kernel 2.5 s to import
    z, half = math.atanh(max(-0.999, min(0.999, r))), NormalDist().inv_cdf(0.5 + confidence / 2) * spread
    return round(math.tanh(z - half), 3), round(math.tanh(z + half), 3)


def correlate(x, y, t=None, n_boot: int | None = None, confidence: float | None = None,
              random_state: int = 0, intervals: bool = True) -> dict:
    """The relation of two weekly series over the weeks where both have a value.

    Parameters
    ----------
    x, y : weekly series (NaN where a week has no value), in week order.
    t : the weeks' positions (default 0, 1, 2, ...): gaps keep their distance in time.
    intervals : False gives the rhos only (no resampling), with a note saying so.

    Returns
    -------
    dict with n (weeks with both values), spearman (raw rho), ci_low and ci_high (its interval),
    detrended (partial rho given the week), detrended_ci_low and detrended_ci_high, differenced (rho of
    week-to-week changes), p_value (of the detrended rho), differenced_p_value (of the differenced rho),
    both from surrogates of the usage side, and note: why a figure is missing (None when nothing is).
    Figures are None when they cannot be computed, never NaN.
    """
    n_boot = N_BOOT if n_boot is None else n_boot
    confidence = CONFIDENCE if confidence is None else confidence
    x, y = stable(x), stable(y)
    t = np.arange(len(x), dtype=float) if t is None else np.asarray(t, dtype=float)
    both = ~(np.isnan(x) | np.isnan(y))
    x, y, t, n = x[both], y[both], t[both], int(both.sum())
    out = {"n": n, "spearman": None, "ci_low": None, "ci_high": None, "detrended": None, "detrended_ci_low": None,
           "detrended_ci_high": None, "differenced": None, "p_value": None, "differenced_p_value": None,
           "note": None}

    def clean(v):
        return None if v is None or v != v else round(float(v), 3)

    if n < 3:
        out["note"] = f"{n} week{'s' if n != 1 else ''} with a value: too few to compare"
        return out
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        out["note"] = f"{'usage' if np.ptp(x) == 0 else 'the metric'} did not vary over the {n} weeks"
        return out
    out.update(spearman=clean(spearman(x, y)), detrended=clean(detrended_spearman(x, y, t)),
               differenced=clean(differenced_spearman(x, y)))
    if n < MIN_PAIRS:
        out["note"] = f"{n} weeks with a value: an interval needs at least {MIN_PAIRS}"
        return out
    if not intervals:
        out["note"] = "rhos only: intervals are drawn for the verdict's usage measure"
        return out
    idx = _block_indices(n, n_boot, np.random.default_rng(random_state))
    out["ci_low"], out["ci_high"] = _percentile(_resampled_spearman(x, y, idx), confidence, n_boot)
    tested = _tests(x, y, t, N_PERM, random_state)
    found = tested["detrended"]
    if out["differenced"] is not None and tested["differenced"] is not None:
        out["differenced_p_value"] = round(tested["differenced"][0], 4)
    if out["detrended"] is None or found is None:
        out["note"] = "once each series' trend is removed, one of them is flat: no detrended relation to test"
    else:
        out["p_value"] = round(found[0], 4)
        out["detrended_ci_low"], out["detrended_ci_high"] = _fisher_interval(out["detrended"], found[1], confidence)
    if out["ci_low"] is None and out["note"] is None:
        out["note"] = "most resampled weeks were flat on one side: no interval for the raw rho"
    return out


def holm(p_values: dict[str, float | None]) -> dict[str, float | None]:
    """Holm-adjusted p-values: each p-value times the number of hypotheses left when it is tested,
    made monotone; None stays None and does not count as a hypothesis."""
    tested = sorted(((p, k) for k, p in p_values.items() if p is not None), key=lambda pk: (pk[0], pk[1]))
    m, running, out = len(tested), 0.0, {k: None for k in p_values}
    for i, (p, k) in enumerate(tested):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = round(running, 4)
    return out


def lagged_correlations(frame: pd.DataFrame, usage_measures, delivery_metrics, lags=LAGS,
                        n_boot: int | None = None, confidence: float | None = None, random_state: int = 0,
                        detail_measures=None) -> pd.DataFrame:
    """The relation of usage in week t with delivery in week t + lag, for every pair and lag.

    `frame` has one row per consecutive week. Returns one row per (usage_measure, delivery_metric,
    lag_weeks) with the `correlate` fields. Intervals and p-values are drawn for the measures in
    `detail_measures` (default: all); the others carry their rhos and a note saying so.
    """
    rows = []
    detail = set(usage_measures if detail_measures is None else detail_measures)
    for u in usage_measures:
        for m in delivery_metrics:
            for lag in lags:
                x = frame[u].to_numpy(dtype=float)[: len(frame) - lag]
                y = frame[m].to_numpy(dtype=float)[lag:]
                t = np.arange(len(x), dtype=float)
                c = correlate(x, y, t, n_boot, confidence, random_state, intervals=u in detail)
                rows.append({"usage_measure": u, "delivery_metric": m, "lag_weeks": lag, **c})
    columns = ["usage_measure", "delivery_metric", "lag_weeks", "n", "spearman", "ci_low", "ci_high", "detrended",
               "detrended_ci_low", "detrended_ci_high", "differenced", "p_value", "differenced_p_value", "note"]
    return pd.DataFrame(rows, columns=columns).astype({"note": object})


def records(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as dicts with None, never NaN, where a value is missing (JSON and sentences alike)."""
    return [{k: (None if v is None or (isinstance(v, float) and v != v) or v is pd.NA else v) for k, v in row.items()}
            for row in frame.astype(object).to_dict("records")]


def trend(series, n_boot: int | None = None, confidence: float | None = None, random_state: int = 0) -> dict:
    """How a weekly series moves over the window: Spearman's rho with the week number, and its interval."""
    values = np.asarray(series, dtype=float)
    c = correlate(np.arange(len(values), dtype=float), values, None, n_boot, confidence, random_state)
    return {"spearman": c["spearman"], "ci_low": c["ci_low"], "ci_high": c["ci_high"], "n": c["n"], "note": c["note"]}


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
