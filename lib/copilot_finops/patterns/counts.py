"""Counting evidence: how far a week's count of successes falls from what was expected of it, in standard errors.

A ratio of small counts is noisy: 3 accepted of 10 outputs shown says little, 30 of 100 says more. A
robust z-score of the ratio itself treats both alike, so low-volume weeks swing past any threshold
by chance while a clear drop in a busy week can stay under it. Here a week's count is judged as the
count it is:

- the rate expected of the week is the developer's own over their other weeks nearby (this week
  left out, so one extreme week cannot move its own yardstick), shrunk towards the rate of the
  segment's other developers by one typical week's worth of trials (a developer with little
  history is judged mostly against peers; the developer judged is never in their own peers' rate);
- the count is compared with that rate as a beta-binomial: binomial noise, plus the extra
  week-to-week variation real rates have (task mix, a new repo), estimated per segment from the
  median of the squared residuals, so the few weeks far out do not widen the yardstick.

The result is a z-like score: 0 is the expected count, -3 a count three standard errors short.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

CHI2_1_MEDIAN = 0.454936  # median of a chi-square with one degree of freedom: a squared standard normal


def same_user_nearby(values: pd.Series, users: pd.Series, weeks: pd.Series, span: int) -> np.ndarray:
    """For each row, the values of the same user's other rows whose week is at most `span` weeks away.

    An array of one row per input row, NaN where there is no such row (and for rows without a user). All users
    at once on a grid of users x weeks (x rows per user-week, usually one), so an org of 30,000 developers
    costs a few array operations rather than a loop over its people.
    """
    v = values.to_numpy(dtype="float64")
    n = len(v)
    user, _ = pd.factorize(users)
    valid = user >= 0
    if n == 0 or not valid.any():
        return np.full((n, 1), np.nan)
    ordinal = np.array([w.toordinal() // 7 for w in weeks], dtype=np.int64)
    column = ordinal - ordinal[valid].min() + span
    column[~valid] = span
    user = np.where(valid, user, 0)
    copy = pd.Series(np.zeros(n)).groupby([user, column]).cumcount().to_numpy()  # the k-th row of its user-week
    grid = np.full((user.max() + 1, int(column.max()) + span + 1, copy.max() + 1), np.nan)
    grid[user[valid], column[valid], copy[valid]] = v[valid]
    near = grid[user[:, None], column[:, None] + np.arange(-span, span + 1)[None, :]]  # rows x offsets x copies
    near[np.arange(n), span, copy] = np.nan  # not itself
    near = near.reshape(n, -1)
    near[~valid] = np.nan
    return near


def nearby_sums(values: pd.Series, users: pd.Series, weeks: pd.Series, span: int) -> pd.Series:
    """Each row's sum of the same user's other weeks at most `span` weeks away (0 when there are none)."""
    return pd.Series(np.nansum(same_user_nearby(values, users, weeks, span), axis=1), index=values.index,
                     dtype="float64")


def overdispersion(residual2: np.ndarray, trials: np.ndarray) -> float:
    """The intra-class correlation rho of a beta-binomial (variance n p (1-p) (1 + (n-1) rho)) at which the
    median squared residual, rescaled, is that of a standard normal; 0 when binomial noise explains it."""
    ok = np.isfinite(residual2) & (trials > 0)
    r2, n = residual2[ok], trials[ok]
    if len(r2) < 5 or np.median(r2) <= CHI2_1_MEDIAN:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(60):  # the median falls as rho grows: bisect
        mid = (lo + hi) / 2
        if np.median(r2 / (1 + (n - 1) * mid)) > CHI2_1_MEDIAN:
            lo = mid
        else:
            hi = mid
    return hi


def rate_z(successes: pd.Series, trials: pd.Series, users: pd.Series, weeks: pd.Series, groups: pd.Series,
           span: int) -> pd.Series:
    """Each week's successes against the rate expected of it (see the module docstring), as a z-like score.

    `groups` are the peer groups (role segments). NaN for weeks without trials or with an expected
    rate of 0 or 1 (no spread to judge by).
    """
    s = successes.astype("float64").fillna(0.0)
    n = trials.astype("float64").fillna(0.0)
    own_s, own_n = nearby_sums(s, users, weeks, span), nearby_sums(n, users, weeks, span)
    # Peers' rate: the group's counts without the developer's own (every week of theirs).
    key = pd.Series(list(zip(groups, users)), index=s.index)
    group_s, group_n = s.groupby(groups).transform("sum"), n.groupby(groups).transform("sum")
    user_s, user_n = s.groupby(key).transform("sum"), n.groupby(key).transform("sum")
    peers_n = (group_n - user_n)
    peer_rate = ((group_s - user_s) / peers_n.where(peers_n > 0)).fillna(s.sum() / max(n.sum(), 1.0))
    prior = n.where(n > 0).groupby(groups).transform("median").fillna(1.0)  # one typical week's trials
    expected = (own_s + prior * peer_rate) / (own_n + prior)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        residual = (s - n * expected) / np.sqrt(n * expected * (1 - expected))
    residual = residual.where((n > 0) & (expected > 0) & (expected < 1))
    out = pd.Series(np.nan, index=s.index, dtype="float64")
    for _, index in residual.groupby(groups).groups.items():
        r, t = residual.loc[index].to_numpy(), n.loc[index].to_numpy()
        rho = overdispersion(r ** 2, t)
        out.loc[index] = r / np.sqrt(1 + (t - 1).clip(min=0) * rho)
    return out
