"""The high-burn detector as a scikit-learn Pipeline: peer scaling, anomaly scoring, clustering, naming.

Steps, each a small estimator that can be tested and swapped alone:

1. `PeerScaler` puts every feature on its role segment's scale (peers judge peers): the distance
   from the segment's median in robust spreads, so an SRE's routine CLI volume is ordinary among
   SREs even when it would stand out among frontend developers.
2. `HighBurnDetector` scores each user-week with an IsolationForest (how easily it is isolated
   from the others), flags the most anomalous share (`contamination`), clusters the flagged weeks
   with a Gaussian mixture, and names each cluster by the waste pattern most of its weeks match
   (`PATTERNS`, below). A flagged week carries a pattern only when its own features match that
   pattern: heavy use that is also accepted and merged matches none and is not reported.

Randomness comes from one `random_state`; the same data and state give the same labels.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import IsolationForest
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline

from .catalog import NO_PATTERN, PATTERNS
from .features import FEATURES, LOG_FEATURES

Z_CLIP = 10.0  # peer distances beyond this are all "very far"; clipping keeps the mixture from chasing outliers
# What the anomaly score looks at: the ways a week can burn without value, each oriented so that
# "more" is "more wasteful" (+1: higher than peers is worse, -1: lower is worse). Only the wasteful
# side counts: a week that asks little or keeps much is not anomalous for this purpose. Raw volume
# is left out on purpose: heavy use that is accepted and merged is what the team wants.
BURN_SIGNALS = {
    "accepted_output_ratio": -1,
    "interactions": +1,
    "credits_per_accepted_output": +1,
    "cli_requests_per_prompt": +1,
    "off_window_share": +1,
    "prs_opened_unmerged": +1,
    "loc_added_per_suggested": +1,
    "duplicate_prs": +1,
}


RAW, MEDIAN = "raw__", "median__"  # column prefixes of the context PeerScaler passes along


class PeerScaler(TransformerMixin, BaseEstimator):
    """Scale features within each role segment: (value - segment median) / robust segment spread.

    Input: a DataFrame with `segment_column` and the `features` columns (raw units). Volumes named
    in `log_features` are compared as log1p. The spread is the IQR / 1.349 (a standard deviation
    for normal data); features without an IQR (zero for most peers) use the standard deviation,
    then 1. Segments with fewer than `min_peers` rows are scaled against the whole org.

    Output: a DataFrame on the same index with one column per feature holding the peer distance
    (clipped to ±Z_CLIP; missing values, e.g. requests per prompt without CLI use, become 0, the
    peer median), followed by the context the pattern rules read: `raw__<feature>` (own units),
    `median__<feature>` (the segment median, own units) and `weeks_active` when the input has it.
    """

    def __init__(self, features=FEATURES, log_features=LOG_FEATURES, segment_column: str = "segment",
                 min_peers: int = 20):
        self.features = features
        self.log_features = log_features
        self.segment_column = segment_column
        self.min_peers = min_peers

    def _values(self, X: pd.DataFrame) -> pd.DataFrame:
        values = X[list(self.features)].astype("float64").copy()
        for column in self.log_features:
            values[column] = np.log1p(values[column].clip(lower=0))
        return values

    @staticmethod
    def _stats(values: pd.DataFrame, raw: pd.DataFrame) -> dict:
        median = values.median()
        spread = (values.quantile(0.75) - values.quantile(0.25)) / 1.349
        # Features that are zero for most peers (duplicates, off-window share) have no IQR; their
        # standard deviation still tells an occasional weekend from a habit.
        spread = spread.where(spread > 0, values.std()).where(lambda s: s > 0, 1.0)
        return {"median": median, "spread": spread.fillna(1.0), "raw_median": raw.median(), "peers": len(values)}

    def fit(self, X: pd.DataFrame, y=None):
        values = self._values(X)
        raw = X[list(self.features)].astype("float64")
        self.org_ = self._stats(values, raw)
        self.segments_ = {}
        for segment, index in X.groupby(self.segment_column).groups.items():
            if len(index) >= self.min_peers:
                self.segments_[segment] = self._stats(values.loc[index], raw.loc[index])
        return self

    def peer_stats(self, segment: str) -> dict:
        """The median, spread and raw median a segment's weeks are compared with."""
        return self.segments_.get(segment, self.org_)

    def peer_medians(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each row's segment median of every feature, in the feature's own units."""
        out = pd.DataFrame(index=X.index, columns=list(self.features), dtype="float64")
        for segment, index in X.groupby(self.segment_column).groups.items():
            out.loc[index] = self.peer_stats(segment)["raw_median"].to_numpy()
        return out

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        values = self._values(X)
        z = pd.DataFrame(index=X.index, columns=list(self.features), dtype="float64")
        for segment, index in X.groupby(self.segment_column).groups.items():
            stats = self.peer_stats(segment)
            z.loc[index] = ((values.loc[index] - stats["median"]) / stats["spread"]).to_numpy()
        parts = [z.fillna(0.0).clip(-Z_CLIP, Z_CLIP),
                 X[list(self.features)].astype("float64").add_prefix(RAW),
                 self.peer_medians(X).add_prefix(MEDIAN)]
        if "weeks_active" in X:
            parts.append(X[["weeks_active"]].astype("float64"))
        return pd.concat(parts, axis=1)


def split_context(X: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(peer distances, raw values, peer medians) of a PeerScaler output, each with plain feature names."""
    raw_cols = [c for c in X.columns if c.startswith(RAW)]
    features = [c[len(RAW):] for c in raw_cols]
    return (X[features], X[raw_cols].rename(columns=lambda c: c[len(RAW):]),
            X[[MEDIAN + f for f in features]].rename(columns=lambda c: c[len(MEDIAN):]))


def pattern_matches(z: pd.DataFrame, raw: pd.DataFrame, peer_median: pd.DataFrame) -> pd.DataFrame:
    """Which patterns each week matches: a boolean frame, one column per pattern in PATTERNS order.

    `z` holds peer distances, `raw` the same weeks' features in their units and `peer_median`
    their segment medians (see `split_context`).
    """
    return pd.DataFrame({p.name: np.logical_and.reduce([c.holds(z, raw, peer_median) for c in p.conditions])
                         for p in PATTERNS}, index=z.index)


def pattern_strength(z: pd.DataFrame) -> pd.DataFrame:
    """How far past its thresholds a week is on each pattern: the smallest margin over its conditions."""
    return pd.DataFrame({p.name: np.minimum.reduce([(z[c.feature] * c.direction - c.z).to_numpy()
                                                    for c in p.conditions])
                         for p in PATTERNS}, index=z.index)


class HighBurnDetector(BaseEstimator):
    """Anomaly score, flag, cluster and name user-weeks; the last step after PeerScaler.

    `fit(X)` takes PeerScaler output. `predict(X)` returns one label per row: a pattern name from
    PATTERNS, or "" for weeks that are not flagged or match no pattern. `score_samples(X)` returns
    the anomaly score (higher is more unusual: IsolationForest's score, negated). `clusters(X)`
    returns each flagged week's mixture component (-1 when not flagged).

    Parameters
    ----------
    signals : {feature: direction} the forest scores; BURN_SIGNALS by default.
    contamination : share of user-weeks the IsolationForest flags as anomalous (0 < c < 0.5).
    max_clusters : most Gaussian-mixture components tried; the count is chosen by BIC.
    min_history_weeks : a developer's week carries a pattern only once they have this many active
        weeks in the data (`weeks_active`, when given): a joiner's first days or a seat used now
        and then are not a habit, and the peer medians say little about them.
    random_state : seeds the forest and the mixture.
    """

    def __init__(self, signals: dict | None = None, contamination: float = 0.1, max_clusters: int = 8,
                 n_estimators: int = 200, min_history_weeks: int = 3, random_state: int = 0):
        self.signals = signals
        self.contamination = contamination
        self.max_clusters = max_clusters
        self.n_estimators = n_estimators
        self.min_history_weeks = min_history_weeks
        self.random_state = random_state

    def burn(self, X: pd.DataFrame) -> np.ndarray:
        """The oriented, one-sided burn signals the forest and the mixture see (rows x signals + 1).

        The last column is each week's largest single signal. A forest isolates a point faster the
        more features it departs on, so a week far out on one signal only (duplicate PRs, off-window
        use) would rank below weeks a little out on many; the peak gives such departures a shared axis.
        """
        signals = self.signals or BURN_SIGNALS
        B = np.column_stack([(X[f] * d).clip(lower=0).to_numpy() for f, d in signals.items()])
        return np.column_stack([B, B.max(axis=1)])

    def fit(self, X: pd.DataFrame, y=None):
        B = self.burn(X)
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, contamination=self.contamination,
                                       random_state=self.random_state).fit(B)
        flagged = self.forest_.predict(B) == -1
        self.mixture_ = self._fit_mixture(B[flagged])
        self.cluster_names_ = {}
        if self.mixture_ is not None:
            clusters = self.mixture_.predict(B[flagged])
            matches = pattern_matches(*split_context(X.loc[flagged]))
            for cluster in np.unique(clusters):
                share = matches[clusters == cluster].mean()
                # A cluster takes the name of the pattern most of its weeks match; otherwise it is
                # unusual use that looks like none of the waste patterns (often healthy heavy use).
                self.cluster_names_[int(cluster)] = share.idxmax() if share.max() >= 0.5 else NO_PATTERN
        return self

    def _fit_mixture(self, B: np.ndarray) -> GaussianMixture | None:
        if len(B) < 4:
            return None
        best, best_bic = None, np.inf
        for k in range(1, min(self.max_clusters, len(B) // 4) + 1):
            gm = GaussianMixture(k, covariance_type="diag", reg_covar=1e-3, n_init=2,
                                 random_state=self.random_state).fit(B)
            bic = gm.bic(B)
            if bic < best_bic:
                best, best_bic = gm, bic
        return best

    def score_samples(self, X: pd.DataFrame) -> np.ndarray:
        return -self.forest_.score_samples(self.burn(X))

    def clusters(self, X: pd.DataFrame) -> np.ndarray:
        B = self.burn(X)
        flagged = self.forest_.predict(B) == -1
        out = np.full(len(X), -1)
        if flagged.any():
            out[flagged] = self.mixture_.predict(B[flagged]) if self.mixture_ is not None else 0
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        clusters = self.clusters(X)
        z, raw, medians = split_context(X)
        matches = pattern_matches(z, raw, medians)
        strength = pattern_strength(z).where(matches)
        judged = np.ones(len(X), bool)
        if "weeks_active" in X:
            judged = (X["weeks_active"] >= self.min_history_weeks).to_numpy()
        labels = np.full(len(X), NO_PATTERN, dtype=object)
        for i in np.flatnonzero((clusters >= 0) & judged):
            name = self.cluster_names_.get(int(clusters[i]), NO_PATTERN)
            if name and matches.iloc[i][name]:
                labels[i] = name  # the cluster's name, backed by the week's own evidence
            elif matches.iloc[i].any():
                labels[i] = strength.iloc[i].idxmax()  # the pattern the week itself matches best
        return labels


def build_pipeline(random_state: int = 0, contamination: float = 0.1) -> Pipeline:
    """The detector: `Pipeline([("peer_scale", PeerScaler()), ("detect", HighBurnDetector())])`.

    `fit(features)`, `predict(features)` and `score_samples(features)` take user-week features
    (`features.user_week_features` output) with a `segment` column.
    """
    return Pipeline([("peer_scale", PeerScaler()),
                     ("detect", HighBurnDetector(contamination=contamination, random_state=random_state))])


def fit_predict_patterns(pipeline: Pipeline, features: pd.DataFrame) -> pd.DataFrame:
    """Fit the pipeline on user-week features and label them.

    Returns a frame on the same index with: score (anomaly score), flagged (bool, the forest's
    call), cluster (-1 if not flagged), pattern ("" if none), z_<feature> (peer distance) and
    median_<feature> (segment median, the feature's units) for every feature.
    """
    pipeline.fit(features)
    X = pipeline[:-1].transform(features)
    detector = pipeline[-1]
    clusters = detector.clusters(X)
    z, _, medians = split_context(X)
    out = pd.DataFrame({"score": detector.score_samples(X), "flagged": clusters >= 0, "cluster": clusters,
                        "pattern": detector.predict(X)}, index=features.index)
    return out.join(z.add_prefix("z_")).join(medians.add_prefix("median_"))
