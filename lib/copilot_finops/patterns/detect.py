"""High burn, low value: find the wasteful user-week patterns, explain them with evidence, coach.

`detect` is what the `patterns` command and notebook 04 share: it builds the per user-week
features (`features`), runs the scikit-learn pipeline (`model`: peer scaling within
the role segment, IsolationForest, Gaussian-mixture clusters named by pattern) and returns the
flagged user-weeks with their evidence and the coaching advice from `params/playbooks.yaml`.
Users appear only as pseudonyms; the detector never reads any ground truth.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from .. import cache, privacy
from ..errors import UserError
from ..params import OrgParams, PatternRules, Playbooks
from ..period import Period
from . import features as features_mod
from . import review as review_mod
from .catalog import NO_PATTERN, PATTERN_BY_NAME, PATTERNS, week_month

PATTERN_NAMES = tuple(p.name for p in PATTERNS)
LOOKBACK_WEEKS = 26  # peers are judged over about half a year of weeks, ending with the period
SMALL_TEAMS = "(teams under k developers)"
DETECT_COLUMNS = ["user", "team_slug", "segment", "week_start", "pattern", "pattern_title", "score", "credits",
                  "evidence", "advice", "weight"]
FEATURE_LABELS = {
    "interactions": "prompts", "generations": "outputs generated", "acceptances": "outputs accepted",
    "interactions_vs_usual": "prompts, against the developer's usual week",
    "acceptance_vs_usual": "accepted-output ratio, against the developer's usual week",
    "loc_added_vs_usual": "lines added, against the developer's usual week",
    "off_window_days": "off-window days with activity",
    "off_window_day_ratio": "activity per off-window day, against the week's working days",
    "acceptance_z": "outputs accepted against the developer's own rate, in standard errors",
    "accepted_output_ratio": "accepted-output ratio", "loc_suggested": "lines suggested",
    "loc_added": "lines added", "loc_added_per_suggested": "lines added per line suggested",
    "ai_credits_used": "AI credits", "credits_per_accepted_output": "AI credits per accepted output",
    "cli_requests": "CLI requests", "cli_requests_per_prompt": "CLI requests per prompt",
    "cli_tokens_per_accepted_output": "CLI tokens per accepted output",
    "activity": "prompts, outputs and CLI prompts", "off_window_share": "share of use outside delivery windows",
    "off_window_activity": "prompts, outputs and CLI prompts outside delivery windows",
    "prs_opened_unmerged": "PRs opened, not merged", "unmerged_share": "share of PRs opened that did not merge (of those settled)",
    "unmerged_z": "PRs left unmerged against the developer's own rate, in standard errors",
    "merged_prs_same_week": "PRs merged that week", "merged_prs_next_week": "PRs merged the week after",
    "duplicate_prs": "PRs repeating another author's work",
}


def label_features(frame: pd.DataFrame, random_state: int = 0, rules: PatternRules | None = None) -> pd.DataFrame:
    """Run the detector pipeline on user-week features (`user_week_features` output).

    Returns `frame` joined with score, flagged, cluster, pattern ("" if none), z_<feature> (peer
    distance) and median_<feature> (segment median, the feature's units). `rules`: params' thresholds.
    """
    from . import model  # scikit-learn: only when a fit is needed, not when it is memoised

    pipeline = model.build_pipeline(random_state=random_state, rules=rules)
    return frame.join(model.fit_predict_patterns(pipeline, frame))


@cache.memoised("patterns-labelled")  # org-wide (peers judge peers), the same for every team's report
def label_user_weeks(con: duckdb.DuckDBPyConnection, params: OrgParams, first_week: date | None = None,
                     last_week: date | None = None, random_state: int = 0) -> pd.DataFrame:
    """Features, peer distances and pattern labels of every user-week with activity in the full weeks given.

    The frame carries logins: it is the working table for `detect` and for evaluation, never for
    display. Columns: the `load_user_weeks` columns, the FEATURES, what `label_features` adds, and
    weight (what analysts' reviews of similar weeks make of a flagged week, `review.weights`).
    """
    weeks = features_mod.load_user_weeks(con, params, first_week, last_week)
    if weeks.empty:
        return weeks
    labelled = label_features(features_mod.user_week_features(weeks), random_state=random_state, rules=params.patterns)
    labelled["weight"] = review_mod.weights(labelled, review_mod.reviews(con))
    return labelled


@cache.memoised("patterns-flagged")  # what every team's page reads: a few percent of the labelled weeks
def flagged_user_weeks(con: duckdb.DuckDBPyConnection, params: OrgParams, first_week: date | None = None,
                       last_week: date | None = None, random_state: int = 0) -> pd.DataFrame:
    """The rows of `label_user_weeks` that carry a pattern, every column kept (logins too: a working table).

    A team's page needs only these; reading them, rather than every labelled week of the lookback, is what
    keeps the page's time flat as the org grows (at 30,000 developers: 4 % of some 800,000 rows)."""
    labelled = label_user_weeks(con, params, first_week, last_week, random_state=random_state)
    if labelled.empty:
        return labelled
    return labelled[labelled["pattern"] != NO_PATTERN].reset_index(drop=True)


def _number(x: float) -> float | None:
    if pd.isna(x):
        return None  # JSON has no NaN
    return round(float(x), 3) if abs(x) < 10 else round(float(x), 1)


def evidence(row, pattern: str, extra: int = 2, min_z: float = 3.0) -> list[dict]:
    """What sets a flagged week apart (`row`, a labelled week as a dict or a Series): the pattern's own features
    first, then up to `extra` other features at least `min_z` peer spreads from the segment median. Each item
    is {feature, value, peer_median} in the feature's units."""
    own = [c.feature for c in PATTERN_BY_NAME[pattern].conditions]
    others = [(abs(row[f"z_{f}"]), f) for f in features_mod.FEATURES if f not in own and abs(row[f"z_{f}"]) >= min_z]
    chosen = own + [f for _, f in sorted(others, key=lambda t: (-t[0], t[1]))[:extra]]
    return [{"feature": f, "value": _number(row[f]), "peer_median": _number(row[f"median_{f}"])} for f in chosen]


SHARES = ("accepted_output_ratio", "off_window_share", "unmerged_share")


def evidence_value(feature: str, value) -> str:
    """One evidence figure in the reader's units: shares as percentages, ratios to the usual week as 'x'."""
    if value is None:
        return "n/a"
    if feature in SHARES:
        return f"{value:.0%}"
    if feature.endswith("_vs_usual") or feature == "off_window_day_ratio":
        return f"{value:.1f}x"
    if round(value, 1) == 0:
        return "0"  # not "-0.0": a standard-error score a hair under zero is zero to the reader
    return f"{value:,.1f}" if abs(value) < 100 and not float(value).is_integer() else f"{value:,.0f}"


def evidence_text(items: list[dict]) -> str:
    """Evidence as one readable line: 'accepted-output ratio 9% (segment median 31%); prompts, against the
    developer's usual week 2.6x (segment median 1.0x)'."""
    return "; ".join(f"{FEATURE_LABELS.get(e['feature'], e['feature'])} {evidence_value(e['feature'], e['value'])} "
                     f"(segment median {evidence_value(e['feature'], e['peer_median'])})" for e in items)


def period_weeks(period: Period | None, lookback_weeks: int = LOOKBACK_WEEKS) -> tuple[date | None, date | None]:
    """(first, last) Monday of the weeks the detector is fitted on for a period (None: every week)."""
    if period is None:
        return None, None
    # The Monday of the last week whose Thursday falls in the period.
    last = period.end - timedelta(days=(period.end.weekday() - 3) % 7 + 3)
    return last - timedelta(weeks=lookback_weeks), last


def check_playbooks(playbooks: Playbooks | None) -> None:
    """Every pattern needs coaching advice, and every advice entry a pattern: raise UserError otherwise."""
    if playbooks is None:
        return
    missing = [name for name in PATTERN_NAMES if name not in playbooks.patterns]
    unknown = sorted(set(playbooks.patterns) - set(PATTERN_NAMES))
    if missing or unknown:
        raise UserError("playbooks.yaml: " + "; ".join(
            ([f"no advice for pattern(s) {', '.join(missing)}"] if missing else [])
            + ([f"unknown pattern(s) {', '.join(unknown)}"] if unknown else []))
            + f" (patterns: {', '.join(PATTERN_NAMES)})")


def flagged_weeks(labelled: pd.DataFrame, months: set[str] | None, playbooks: Playbooks | None = None,
                  key: bytes | None = None, min_weight: float = 0.5, teams: set[str] | None = None) -> pd.DataFrame:
    """The DETECT_COLUMNS frame of the labelled weeks that carry a pattern, in the given months (None: all), of the
    given teams (None: every team); the rows of a team are the same whether or not `teams` names it alone.

    Weeks that analysts' reviews weigh under `min_weight` (see `review`) are left out.
    """
    check_playbooks(playbooks)
    flagged = labelled[labelled["pattern"] != NO_PATTERN] if not labelled.empty else labelled
    if teams is not None and not flagged.empty:
        flagged = flagged[flagged["team_slug"].isin(teams)]
    if "weight" in flagged and not flagged.empty:
        flagged = flagged[flagged["weight"] >= min_weight]
    if months is not None and not flagged.empty:
        flagged = flagged[[week_month(w) in months for w in flagged["week_start"]]]
    if flagged.empty:
        return pd.DataFrame(columns=DETECT_COLUMNS)
    advice = {name: (playbooks.patterns[name].advice if playbooks and name in playbooks.patterns else "")
              for name in PATTERN_NAMES}
    out = pd.DataFrame({
        "user": [privacy.pseudonym(login, key) for login in flagged["user_login"]],
        "team_slug": flagged["team_slug"].to_numpy(),
        "segment": flagged["segment"].to_numpy(),
        "week_start": flagged["week_start"].to_numpy(),
        "pattern": flagged["pattern"].to_numpy(),
        "pattern_title": [PATTERN_BY_NAME[p].title for p in flagged["pattern"]],
        "score": flagged["score"].round(4).to_numpy(),
        "credits": flagged["ai_credits_used"].fillna(0).round(2).to_numpy(),
        "evidence": [evidence(row, row["pattern"]) for row in flagged.to_dict("records")],  # (iterrows: a Series a row)
        "advice": [advice[p] for p in flagged["pattern"]],
        "weight": (flagged["weight"] if "weight" in flagged else pd.Series(1.0, index=flagged.index)).to_numpy(),
    }, columns=DETECT_COLUMNS)
    # (stable: weeks that tie keep the labelled frame's order, so a team's rows come out alike with or without `teams`)
    return out.sort_values(["week_start", "pattern", "score"], ascending=[True, True, False], ignore_index=True,
                           kind="stable")


def detect(con: duckdb.DuckDBPyConnection, params: OrgParams, period: Period | None = None,
           random_state: int = 0, playbooks: Playbooks | None = None,
           lookback_weeks: int = LOOKBACK_WEEKS, key: bytes | None = None) -> pd.DataFrame:
    """Flagged user-weeks of a month (or of all the data), with evidence and coaching advice.

    Parameters
    ----------
    con : open warehouse connection (read-only is enough).
    params : the org's parameters (segments for peer groups, delivery windows for off-window use).
    period : the month to report; weeks count in the month of their Thursday. The detector is fitted
        on the `lookback_weeks` full weeks before it as well, so peers are judged on more than a month.
        None: fit on and report every full week in the warehouse.
    random_state : seeds the IsolationForest and the Gaussian mixture; same data and seed, same result.
    playbooks : coaching advice per pattern (params.load_playbooks); None leaves `advice` empty.
    key : pseudonym key (privacy.key_for(params, params_dir) in reports); privacy.pseudonym_key() if None.

    Returns
    -------
    DataFrame, one row per flagged user-week, ordered by week, pattern and score: user (pseudonym),
    team_slug, segment, week_start (date), pattern, pattern_title, score (anomaly score, higher is
    more unusual), credits (AI credits used that week), evidence (list of {feature, value,
    peer_median}), advice, weight (1 unless analysts' reviews of similar weeks lowered it). No logins.
    """
    first, last = period_weeks(period, lookback_weeks)
    labelled = flagged_user_weeks(con, params, first, last, random_state=random_state)
    return flagged_weeks(labelled, None if period is None else {period.label}, playbooks, key,
                         params.patterns.review_min_weight)


def detect_with_previous(con: duckdb.DuckDBPyConnection, params: OrgParams, period: Period, random_state: int = 0,
                         playbooks: Playbooks | None = None, lookback_weeks: int = LOOKBACK_WEEKS,
                         key: bytes | None = None, teams: set[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`detect` for a month and the month before, from one fit (so the two months are judged alike); with `teams`,
    only their weeks (a team's retro: pseudonyms and evidence for the whole org's 8,700 flagged weeks at 30,000
    developers cost about half a second)."""
    first, last = period_weeks(period, lookback_weeks)
    labelled = flagged_user_weeks(con, params, first, last, random_state=random_state)
    w = params.patterns.review_min_weight
    return (flagged_weeks(labelled, {period.label}, playbooks, key, w, teams),
            flagged_weeks(labelled, {period.previous.label}, playbooks, key, w, teams))


def active_developers_by_team(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, int]:
    """Developers active on each team in the period (per-day membership)."""
    rows = con.execute("""
        SELECT m.team_slug, count(DISTINCT u.user_id)
        FROM int_team_member_day m JOIN int_user_day_usage u USING (day, user_id)
        WHERE u.active AND u.day BETWEEN ? AND ? GROUP BY 1
    """, [period.start, period.end]).fetchall()
    return {team: int(n) for team, n in rows}
