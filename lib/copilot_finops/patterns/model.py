"""The high-burn detector as a scikit-learn Pipeline: peer scaling, anomaly scoring, clustering, naming.

Steps, each a small estimator that can be tested and swapped alone:

1. `PeerScaler` puts every feature on its role segment's scale (peers judge peers): the distance
   from the segment's median in robust spreads (MAD), so an SRE's routine CLI volume is ordinary
   among SREs even when it would stand out among frontend developers.
2. `HighBurnDetector` labels each week with the pattern whose conditions it meets (`catalog`: robust
   z-scores within the segment plus minimum effects in plain units, thresholds from params), scores
   how unusual the week is overall with an IsolationForest, and groups the most unusual share
   (`contamination`) with a Gaussian mixture named by the patterns its weeks carry. The score ranks
   and the clusters describe; neither gates a label: a fixed share of flagged weeks would be a
   constant of its own, capping recall in an org with more waste and inventing it in one with less.
   Heavy use that is accepted and merged meets no pattern and is not reported.

Randomness comes from one `random_state`; the same data and state give the same labels.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import IsolationForest
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline

from ..params import PatternRules
from .catalog import NO_PATTERN, PATTERNS
from .features import FEATURES, LOG_FEATURES

Z_CLIP = 10.0  # peer distances beyond this are all "very far"; clipping keeps the mixture from chasing outliers
# What the anomaly score looks at: the ways a week can burn without value, each oriented so that
# "more" is "more wasteful" (+1: higher than peers is worse, -1: lower is worse). Only the wasteful
# side counts: a week that asks little or keeps much is not anomalous for this purpose. Raw volume
# is left out on purpose: heavy use that is accepted and merged is what the team wants.
BURN_SIGNALS = {
    "accepted_output_ratio": -1,
    "acceptance_vs_usual": -1,
    "acceptance_z": -1,
    "interactions_vs_usual": +1,
    "credits_per_accepted_output": +1,
    "cli_requests_per_prompt": +1,
    "off_window_share": +1,
    "prs_opened_unmerged": +1,
    "loc_added_vs_usual": +1,
    "duplicate_prs": +1,
}


RAW, MEDIAN = "raw__", "median__"  # column prefixes of the context PeerScaler passes along


class PeerScaler(TransformerMixin, BaseEstimator):
    """Scale features within each role segment: (value - segment median) / robust segment spread.

    Input: a DataFrame with `segment_column` and the `features` columns (raw units). Volumes named
    in `log_features` are compared as log1p. The spread is the MAD x 1.4826 (a standard deviation
    for normal data); features without a MAD (zero for most peers: duplicates, off-window shares)
    fall back to the IQR / 1.349, then the standard deviation, then 1. Segments with fewer than
    `min_peers` rows are scaled against the whole org.

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
        spread = (values - median).abs().median() * 1.4826
        # Features that are zero for most peers (duplicates, off-window share) have no MAD; their
        # IQR, else their standard deviation, still tells an occasional weekend from a habit.
        spread = spread.where(spread > 0, (values.quantile(0.75) - values.quantile(0.25)) / 1.349)
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


def pattern_matches(z: pd.DataFrame, raw: pd.DataFrame, peer_median: pd.DataFrame,
                    rules: PatternRules | None = None) -> pd.DataFrame:
    """Which patterns each week matches: a boolean frame, one column per pattern in PATTERNS order.

    `z` holds peer distances, `raw` the same weeks' features in their units and `peer_median`
    their segment medians (see `split_context`); `rules` the thresholds (params' defaults if None).
    """
    rules = rules or PatternRules()
    return pd.DataFrame({p.name: np.logical_and.reduce([c.holds(z, raw, peer_median, rules).to_numpy()
                                                        for c in p.conditions])
                         for p in PATTERNS}, index=z.index)


def pattern_strength(z: pd.DataFrame, rules: PatternRules | None = None) -> pd.DataFrame:
    """How far past its z thresholds a week is on each pattern: the smallest margin over its conditions
    that have one (0 for a pattern resting on minimum effects alone)."""
    rules = rules or PatternRules()
    out = {}
    for p in PATTERNS:
        margins = [(z[c.feature] * c.direction - c.threshold(rules)).to_numpy() for c in p.conditions
                   if c.threshold(rules) is not None]
        out[p.name] = np.minimum.reduce(margins) if margins else np.zeros(len(z))
    return pd.DataFrame(out, index=z.index)


class HighBurnDetector(BaseEstimator):
    """Label, score and cluster user-weeks; the last step after PeerScaler.

    `fit(X)` takes PeerScaler output. `predict(X)` returns one label per row: the pattern from
    PATTERNS whose conditions the week meets (the one it meets by the widest margin when several),
    or "" for none, and "" for developers with fewer than `rules.min_history_weeks` other active
    weeks (a joiner's first days or a seat used now and then are not a habit, and their usual week
    is unknown). `score_samples(X)` returns how unusual the week is overall (IsolationForest's score,
    negated: higher is more unusual). `clusters(X)` returns the mixture component of each week among
    the most unusual `contamination` share (-1 for the others); `cluster_names_` names each component
    by the pattern most of its weeks carry.

    Parameters
    ----------
    rules : the thresholds of the patterns (params' `patterns:`); the defaults if None.
    signals : {feature: direction} the forest scores; BURN_SIGNALS by default.
    contamination : share of user-weeks the forest calls unusual, for the clusters (0 < c < 0.5).
    max_clusters : most Gaussian-mixture components tried; the count is chosen by BIC.
    random_state : seeds the forest and the mixture.
    """

    def __init__(self, rules: PatternRules | None = None, signals: dict | None = None, contamination: float = 0.1,
                 max_clusters: int = 8, n_estimators: int = 200, random_state: int = 0):
        self.rules = rules
        self.signals = signals
        self.contamination = contamination
        self.max_clusters = max_clusters
        self.n_estimators = n_estimators
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
        unusual = self.forest_.predict(B) == -1
        self.mixture_ = self._fit_mixture(B[unusual])
        self.cluster_names_ = {}
        if self.mixture_ is not None:
            clusters = self.mixture_.predict(B[unusual])
            labels = pd.Series(self.predict(X.loc[unusual]))
            for cluster in np.unique(clusters):
                share = labels[clusters == cluster].value_counts(normalize=True)
                top = share.index[0] if len(share) else NO_PATTERN
                # A cluster takes the name of the pattern most of its weeks carry; otherwise it is
                # unusual use that looks like none of the waste patterns (often healthy heavy use).
                self.cluster_names_[int(cluster)] = top if share.iloc[0] >= 0.5 else NO_PATTERN
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
        unusual = self.forest_.predict(B) == -1
        out = np.full(len(X), -1)
        if unusual.any():
            out[unusual] = self.mixture_.predict(B[unusual]) if self.mixture_ is not None else 0
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        rules = self.rules or PatternRules()
        z, raw, medians = split_context(X)
        matches = pattern_matches(z, raw, medians, rules)
        strength = pattern_strength(z, rules).where(matches)
        judged = np.ones(len(X), bool)
        if "weeks_active" in X:
            judged = (X["weeks_active"] > rules.min_history_weeks).to_numpy()
        labels = np.full(len(X), NO_PATTERN, dtype=object)
        hit = matches.to_numpy().any(axis=1) & judged
        if hit.any():
            best = strength.to_numpy()[hit]
            labels[hit] = np.array(matches.columns)[np.nanargmax(np.where(np.isnan(best), -np.inf, best), axis=1)]
        return labels


def build_pipeline(random_state: int = 0, contamination: float = 0.1, rules: PatternRules | None = None) -> Pipeline:
    """The detector: `Pipeline([("peer_scale", PeerScaler()), ("detect", HighBurnDetector())])`.

    `fit(features)`, `predict(features)` and `score_samples(features)` take user-week features
    (`features.user_week_features` output) with a `segment` column.
    """
    rules = rules or PatternRules()
    return Pipeline([("peer_scale", PeerScaler(min_peers=rules.min_peer_weeks)),
                     ("detect", HighBurnDetector(rules=rules, contamination=contamination, random_state=random_state))])


def fit_predict_patterns(pipeline: Pipeline, features: pd.DataFrame) -> pd.DataFrame:
    """Fit the pipeline on user-week features and label them.

    Returns a frame on the same index with: score (anomaly score), flagged (bool: among the most
    unusual share the forest picks), cluster (-1 if not), pattern ("" if none), z_<feature> (peer
    distance) and median_<feature> (segment median, the feature's units) for every feature.
    """
    pipeline.fit(features)
    X = pipeline[:-1].transform(features)
    detector = pipeline[-1]
    clusters = detector.clusters(X)
    z, _, medians = split_context(X)
    out = pd.DataFrame({"score": detector.score_samples(X), "flagged": clusters >= 0, "cluster": clusters,
                        "pattern": detector.predict(X)}, index=features.index)
    return out.join(z.add_prefix("z_")).join(medians.add_prefix("median_"))
