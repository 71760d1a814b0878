"""Per user-week (and team-week) features of the high-burn detector: usage, output, delivery, duplicates.

The warehouse views `int_user_week_usage`, `int_user_week_pull_requests` and `int_user_week_team`
hold the weekly sums; this module adds what needs parameters (delivery windows) or text
similarity (near-duplicate pull requests) and derives the ratios the detector compares. Weeks
are ISO weeks starting on Monday; only weeks whose seven days all lie inside the data count.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from ..params import OrgParams

# Two pull requests whose title and branch read this alike (TF-IDF cosine) count as near-duplicates.
# Measured on the demo org: unrelated titles peak near 0.76, copies of one task score 1.0.
DUPLICATE_SIMILARITY = 0.85
DUPLICATE_WINDOW_DAYS = 7  # only PRs opened within a week of each other are compared
REVERT_TITLE = re.compile(r'^\s*Revert\b', re.IGNORECASE)

# The features the detector scores, in the order evidence lists them. Volumes are heavy-tailed
# and compared on a log scale (LOG_FEATURES); ratios and shares are compared as they are.
FEATURES = (
    "activity", "interactions", "generations", "acceptances", "accepted_output_ratio", "loc_suggested",
    "loc_added", "loc_added_per_suggested", "ai_credits_used", "credits_per_accepted_output", "cli_requests",
    "cli_requests_per_prompt", "cli_tokens_per_accepted_output", "off_window_share", "off_window_activity",
    "prs_opened_unmerged", "unmerged_share", "merged_prs_same_week", "merged_prs_next_week", "duplicate_prs",
)
LOG_FEATURES = (
    "activity", "off_window_activity", "interactions", "generations", "acceptances", "loc_suggested", "loc_added",
    "loc_added_per_suggested", "ai_credits_used", "credits_per_accepted_output", "cli_requests",
    "cli_requests_per_prompt", "cli_tokens_per_accepted_output",
)


def full_weeks(first_day: date, last_day: date) -> list[date]:
    """Mondays of the ISO weeks whose seven days all fall between `first_day` and `last_day`."""
    monday = first_day + timedelta(days=(7 - first_day.weekday()) % 7)
    weeks = []
    while monday + timedelta(days=6) <= last_day:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def near_duplicate_prs(prs: pd.DataFrame, threshold: float = DUPLICATE_SIMILARITY,
                       window_days: int = DUPLICATE_WINDOW_DAYS) -> pd.DataFrame:
    """Pull requests that repeat other work: similar title and branch, opened close in time.

    Parameters
    ----------
    prs : one row per pull request with author_login, repo, title, head_ref (branch) and created_at.
    threshold : TF-IDF cosine similarity (0..1) of "title + branch" at or above which two PRs match.
    window_days : only PRs opened at most this many days apart are compared.

    Returns
    -------
    DataFrame with one row per PR that has a match: author_login, repo, created_at, week_start (date),
    similarity (best match), match_repo. A PR matches PRs by another author, or by the same author
    in another repository (the same request made twice for similar repos); a reworked PR by the
    same author in the same repository is not duplicate work. Reverts are left out, as GitHub
    titles them after the PR they undo.
    """
    columns = ["author_login", "repo", "created_at", "week_start", "similarity", "match_repo"]
    if prs.empty:
        return pd.DataFrame(columns=columns)
    prs = prs[~prs["title"].fillna("").str.match(REVERT_TITLE)].reset_index(drop=True)
    if len(prs) < 2:
        return pd.DataFrame(columns=columns)
    # The branch's login prefix says who, not what: leave it out of the text compared.
    branch = prs["head_ref"].fillna("").str.split("/", n=1).str[-1].str.replace(r"[-_/]+", " ", regex=True)
    text = (prs["title"].fillna("") + " " + branch).str.lower()
    from sklearn.feature_extraction.text import TfidfVectorizer  # here: a memoised report never needs it

    vectors = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(text)  # rows have unit norm
    best, partner = _best_matches(vectors, threshold, pd.to_datetime(prs["created_at"]).to_numpy(),
                                  np.timedelta64(window_days, "D"),
                                  pd.factorize(prs["author_login"])[0], pd.factorize(prs["repo"])[0])
    repos = prs["repo"].to_numpy(dtype=object)
    match_repo = np.where(partner >= 0, repos[np.maximum(partner, 0)], None)
    hit = partner >= 0
    out = prs.loc[hit, ["author_login", "repo", "created_at"]].copy()
    out["week_start"] = pd.to_datetime(out["created_at"]).dt.to_period("W-SUN").dt.start_time.dt.date
    out["similarity"] = best[hit]
    out["match_repo"] = match_repo[hit]
    return out.reset_index(drop=True)


def _best_matches(vectors, threshold: float, created: np.ndarray, window: np.timedelta64,
                  authors: np.ndarray, repos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, its most similar other row at or above `threshold` (cosine of unit rows), opened
    within `window` and by another author or in another repository: (similarity, row), 0 and -1 if none.

    Exact, without comparing all pairs (all-pairs similarity search with prefix filtering): order
    the terms rarest first; a row's prefix is its leading terms up to the point where the norm of
    the rest falls below `threshold`. Two unit rows with dot product >= threshold must share a
    prefix term (the rest alone contributes less than the threshold), so only rows sharing a
    rare term are compared. Ties go to the earliest-opened partner.
    """
    from scipy import sparse

    n = vectors.shape[0]
    best, partner = np.zeros(n), np.full(n, -1)
    x = sparse.csr_matrix(vectors, dtype=np.float64)
    rarest_first = np.argsort(np.bincount(x.indices, minlength=x.shape[1]), kind="stable")
    x = x[:, rarest_first].tocsr()
    x.sort_indices()
    # Squared norm of each row's entries from position k to its end: the rest after a prefix.
    sq = x.data ** 2
    row_of = np.repeat(np.arange(n), np.diff(x.indptr))
    ends = np.r_[0.0, np.cumsum(sq)]
    rest_from_here = ends[x.indptr[1:]][row_of] - ends[:-1]  # this entry and the row's later ones
    in_prefix = rest_from_here >= threshold ** 2 * (1 - 1e-9)
    prefix = sparse.csr_matrix((np.ones(in_prefix.sum()), x.indices[in_prefix], np.r_[0, np.cumsum(
        np.bincount(row_of[in_prefix], minlength=n))]), shape=x.shape)
    pairs = (prefix @ (x != 0).astype(np.float64).T).tocoo()
    i, j = pairs.row, pairs.col
    keep = (i != j) & (np.abs(created[i] - created[j]) <= window) & ((authors[i] != authors[j]) | (repos[i] != repos[j]))
    i, j = i[keep], j[keep]
    if not len(i):
        return best, partner
    sims = np.concatenate([np.asarray(x[i[k:k + 500_000]].multiply(x[j[k:k + 500_000]]).sum(axis=1)).ravel()
                           for k in range(0, len(i), 500_000)])
    ok = sims >= threshold - 1e-12
    i, j, sims = i[ok], j[ok], sims[ok]
    if not len(i):  # rows shared a rare term, but none reached the threshold
        return best, partner
    # For each row: highest similarity first, then the earliest-opened partner.
    rank = np.argsort(np.argsort(created, kind="stable"), kind="stable")
    order = np.lexsort((rank[j], -sims, i))
    first = np.r_[True, i[order][1:] != i[order][:-1]]
    chosen = order[first]
    best[i[chosen]] = sims[chosen]
    partner[i[chosen]] = j[chosen]
    return best, partner


def load_user_weeks(con: duckdb.DuckDBPyConnection, params: OrgParams,
                    first_week: date | None = None, last_week: date | None = None) -> pd.DataFrame:
    """Weekly sums per user from the warehouse, for the full weeks between two Mondays (inclusive).

    Returns one row per user-week with activity: user_id, user_login, week_start (date), team_slug,
    segment, the sums of `int_user_week_usage`, off_window_activity (interactions, generations
    and CLI prompts on days outside the delivery windows), prs_opened, prs_opened_unmerged,
    merged_prs_same_week, merged_prs_next_week and duplicate_prs (PRs opened that week that
    near-duplicate another author's). Empty if the data holds no full week.
    """
    first_day, last_day = con.execute("SELECT min(day), max(day) FROM user_day").fetchone()
    if first_day is None:
        return pd.DataFrame()
    weeks = [w for w in full_weeks(first_day, last_day)
             if (first_week is None or w >= first_week) and (last_week is None or w <= last_week)]
    if not weeks:
        return pd.DataFrame()
    lo, hi = weeks[0], weeks[-1]
    off_days = params.delivery_windows.off_window_days(lo, hi + timedelta(days=6))
    frame = con.execute("""
        WITH off AS (
            SELECT u.user_id, date_trunc('week', u.day)::DATE AS week_start,
                   sum(u.interactions + u.generations + u.cli_prompts) AS off_window_activity
            FROM int_user_day_usage u
            WHERE u.day IN (SELECT unnest(?::DATE[])) AND u.day BETWEEN ? AND ?
            GROUP BY ALL
        )
        SELECT w.*, coalesce(o.off_window_activity, 0) AS off_window_activity,
               t.team_slug, coalesce(p.prs_opened, 0) AS prs_opened,
               coalesce(p.prs_opened_unmerged, 0) AS prs_opened_unmerged,
               coalesce(p.prs_merged, 0) AS merged_prs_same_week,
               coalesce(n.prs_merged, 0) AS merged_prs_next_week
        FROM int_user_week_usage w
        LEFT JOIN off o USING (user_id, week_start)
        LEFT JOIN int_user_week_team t USING (user_id, week_start)
        LEFT JOIN int_user_week_pull_requests p ON p.author_login = w.user_login AND p.week_start = w.week_start
        LEFT JOIN int_user_week_pull_requests n ON n.author_login = w.user_login
                                               AND n.week_start = w.week_start + INTERVAL 7 DAY
        WHERE w.week_start BETWEEN ? AND ?
        ORDER BY w.week_start, w.user_id
    """, [off_days, lo, hi + timedelta(days=6), lo, hi]).df()
    frame["week_start"] = pd.to_datetime(frame["week_start"]).dt.date
    prs = con.execute("""
        SELECT author_login, repo, title, head_ref, created_at FROM pull_request
        WHERE author_login IS NOT NULL AND created_at BETWEEN ? AND ?
    """, [lo - timedelta(days=DUPLICATE_WINDOW_DAYS), hi + timedelta(days=7 + DUPLICATE_WINDOW_DAYS)]).df()
    dups = near_duplicate_prs(prs)
    counts = dups.groupby(["author_login", "week_start"]).size().rename("duplicate_prs").reset_index()
    frame = frame.merge(counts, how="left", left_on=["user_login", "week_start"],
                        right_on=["author_login", "week_start"]).drop(columns="author_login")
    frame["duplicate_prs"] = frame["duplicate_prs"].fillna(0).astype("int64")
    frame["team_slug"] = frame["team_slug"].fillna("(no team)")
    frame["segment"] = [params.segment_of(t) for t in frame["team_slug"]]
    return frame


def user_week_features(weeks: pd.DataFrame) -> pd.DataFrame:
    """Derive the detector's features from weekly sums (see `load_user_weeks`).

    Returns a copy with the FEATURES columns added (floats). Ratios use the counts that make them
    fair: the accepted-output ratio leaves out agent edits (they never carry acceptances), costs
    per accepted output divide by at least one acceptance, CLI ratios are NaN in weeks without CLI
    use, the unmerged share (PRs opened that week and not merged) is NaN without PRs, activity is
    the week's interactions + generations + CLI prompts, and the off-window share is the part of
    that activity on days outside the delivery windows. weeks_active counts the developer's weeks
    in the frame.
    """
    out = weeks.copy()
    acc = out["acceptances_excl_agent_edit"].astype(float)
    gen = out["generations_excl_agent_edit"].astype(float)
    out["acceptances"] = acc
    out["accepted_output_ratio"] = np.where(gen > 0, acc / gen.where(gen > 0, 1.0), np.nan)
    out["loc_added_per_suggested"] = out["loc_added"] / out["loc_suggested"].clip(lower=1)
    per_accepted = acc.clip(lower=1)
    out["credits_per_accepted_output"] = out["ai_credits_used"].fillna(0) / per_accepted
    # CLI ratios are undefined in weeks without CLI use (NaN): peers are compared on CLI weeks only.
    cli_week = out["cli_prompts"] > 0
    out["cli_tokens_per_accepted_output"] = np.where(cli_week, out["cli_tokens"] / per_accepted, np.nan)
    out["cli_requests_per_prompt"] = np.where(cli_week, out["cli_requests"] / out["cli_prompts"].clip(lower=1), np.nan)
    opened = out["prs_opened"].astype(float)
    out["unmerged_share"] = np.where(opened > 0, out["prs_opened_unmerged"] / opened.where(opened > 0, 1.0), np.nan)
    # Activity: what the developer asked for or was offered, IDE and CLI alike. CLI prompts, not CLI
    # requests: requests include the agent's automated follow-ups, which would make an SRE's
    # weekend runbook automation look like a weekend of work.
    out["activity"] = (out["interactions"] + out["generations"] + out["cli_prompts"]).astype(float)
    some = out["activity"] > 0
    out["off_window_share"] = np.where(some, out["off_window_activity"] / out["activity"].where(some, 1.0), 0.0)
    for column in FEATURES:
        out[column] = out[column].astype("float64")
    # How many weeks of the frame the developer was active: the detector judges habits, not first days.
    out["weeks_active"] = out.groupby("user_login")["week_start"].transform("size").astype("int64")
    return out


def team_week_features(features: pd.DataFrame) -> pd.DataFrame:
    """Team-week sums and ratios from user-week features: one row per team_slug and week_start.

    Columns: team_slug, segment, week_start, users, the summed volumes, and the ratios recomputed
    from the sums (never averaged over users).
    """
    sums = ["interactions", "generations", "generations_excl_agent_edit", "acceptances_excl_agent_edit",
            "loc_suggested", "loc_added", "ai_credits_used", "cli_requests", "cli_prompts", "cli_tokens",
            "off_window_activity", "prs_opened", "prs_opened_unmerged", "merged_prs_same_week",
            "merged_prs_next_week", "duplicate_prs"]
    grouped = features.groupby(["team_slug", "segment", "week_start"], as_index=False)
    team = grouped[sums].sum()
    team.insert(3, "users", grouped.size()["size"].to_numpy())
    gen = team["generations_excl_agent_edit"]
    team["accepted_output_ratio"] = team["acceptances_excl_agent_edit"] / gen.where(gen > 0)
    team["credits_per_accepted_output"] = team["ai_credits_used"] / team["acceptances_excl_agent_edit"].clip(lower=1)
    team["cli_requests_per_prompt"] = team["cli_requests"] / team["cli_prompts"].where(team["cli_prompts"] > 0)
    activity = team["interactions"] + team["generations"] + team["cli_prompts"]
    team["off_window_share"] = team["off_window_activity"] / activity.where(activity > 0)
    return team
