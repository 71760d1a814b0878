"""Delivery events (fourkeys definitions): pull requests, deployments, failures and incidents, with their teams.

Every event-level definition is written here once, next to the code that applies it, with its
known limits; `metrics` turns the events into weekly and period figures. The functions are pure:
they take frames (hand-built in tests, loaded by `load_delivery_inputs` from the warehouse) and
return frames. Times are naive UTC; weeks start on Monday.

Definitions
-----------
Team attribution
    A pull request belongs to its author's team(s) on the day it merged (the day it was opened,
    if it never merged), from the per-day membership GitHub reports (`int_team_member_day`).
    An author on several teams is resolved to the team that owns the repo when that is one of
    them (a repo's owner is the team that authored most of its pull requests). Pull requests
    whose author is on no team that day (bots, outside contributors) go to the repo's owner.
Cycle time
    Hours from a pull request's first commit to its merge when commits are known (a
    `first_commit_at` column), else from opening to merge. Pull requests never merged have
    none. Dated by the week of the merge, so a week's figure is final once the week is over.
Lead time for changes (DORA)
    Hours from a pull request's first commit (else its opening) to the production deployment
    that shipped it: the repo's first successful deployment created at or after the merge
    (fourkeys: deployment time minus commit time, for each change the deployment carries).
    Dated by the week of that deployment. Merged pull requests not deployed yet, and repos
    that never deploy, have none (limit: a repo that deploys from a branch other than the one
    pull requests merge into ships them later than this assumes).
Review turnaround
    Hours from opening to the first submitted review by someone other than the author
    (pending reviews have no submission time and do not count). Dated by the week of that review.
Deployment
    A deployment with a `success` status (fourkeys: a deployment that reached its environment);
    its time is the first success. Repos that name a production environment (`production`,
    `prod`) count only those; repos that never do count every environment (limit: staging
    deployments then count too). Deployments with no status at all are not counted (limit:
    repos that do not post statuses look as if they never deploy).
    A deployment belongs to the team of the pull request whose `merge_commit_sha` is the
    deployed sha (works for merge, squash and rebase merges alike, as GitHub records the
    commit it put on the base branch); failing that, to the repo's owner.
Change failure
    A deployment is a failed change when (a) an incident names it as root cause
    (`root cause: <sha>` in the incident's body, the sha being the deployed commit or a commit
    of a pull request it shipped: its merge or head commit, e.g. the branch commit of a squash
    merge), or (b) a pull request it shipped is reverted by a merged pull request titled
    `Revert "<title>"` or on a `revert-<number>` branch, as GitHub's revert button makes them,
    after the deployment. A deployment ships the pull requests merged since the repo's previous
    deployment. (fourkeys counts (a) only; reverts are how many teams roll back without an incident.)
Incident and time to restore
    An issue carrying the incident label (`params.incident_label`). Time to restore is the
    hours from opening to closing (fourkeys: resolved minus created); incidents still open
    have none. Dated by the week the incident opened (fourkeys). An incident belongs to the
    team of the deployment it names, else to the repo's owner.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

PRODUCTION_ENVIRONMENTS = ("production", "prod")
REVERT_TITLE = re.compile(r'^Revert\s+"(?P<title>.+)"\s*$')
REVERT_BRANCH = re.compile(r"^revert-(?P<number>\d+)(?:-|$)")
HOUR = pd.Timedelta(hours=1)


@dataclass
class DeliveryInputs:
    """Source frames, one row per source object.

    pulls: repo, number, author_id, author_login, title, head_ref, head_sha, created_at,
        merged_at, merge_commit_sha (optional: first_commit_at).
    reviews: repo, number, reviewer_login, state, submitted_at.
    deployments: repo, deployment_id, sha, environment, created_at.
    statuses: repo, deployment_id, state, created_at.
    incidents: repo, number, created_at, closed_at, root_cause_sha, labels (list of names).
    membership: day, user_id, team_slug (one row per user, day and team).
    """

    pulls: pd.DataFrame
    reviews: pd.DataFrame
    deployments: pd.DataFrame
    statuses: pd.DataFrame
    incidents: pd.DataFrame
    membership: pd.DataFrame


@dataclass
class DeliveryEvents:
    """Per-event frames with their team: what every weekly and period figure is counted from.

    prs: one row per pull request and team (team_slug, team_source 'author' or 'repo'), with its
        measures and the deployment that shipped it (shipped_at, lead_hours).
    deployments: one row per successful deployment and team, with deployed_at, failed, failure_reason.
    incidents: one row per incident and team, with restore_hours and the deployment it names.
    repo_owner: repo -> owning team.
    """

    prs: pd.DataFrame
    deployments: pd.DataFrame
    incidents: pd.DataFrame
    repo_owner: dict[str, str]


def week_start(values) -> pd.Series:
    """The Monday (as a datetime64 day) of each timestamp's week."""
    ts = pd.to_datetime(pd.Series(values)).dt.normalize()
    return ts - pd.to_timedelta(ts.dt.day_of_week, unit="D")


def _day(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values)).dt.normalize()


# -- team attribution ------------------------------------------------------------------------------
def attribute_pulls(pulls: pd.DataFrame, membership: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Team(s) of each pull request, by its author's membership on the merge (else opening) day.

    Returns
    -------
    (frame with repo, number, team_slug, team_source; repo -> owning team). Pull requests in a
    repo without any attributable author are left out.
    """
    prs = pulls[["repo", "number", "author_id", "created_at", "merged_at"]].copy()
    prs["attribution_day"] = _day(prs["merged_at"].fillna(prs["created_at"]))
    members = membership[["day", "user_id", "team_slug"]].drop_duplicates().copy()
    members["day"] = _day(members["day"])
    cand = prs.merge(members, left_on=["author_id", "attribution_day"], right_on=["user_id", "day"], how="left")
    counted = cand.dropna(subset=["team_slug"]).groupby(["repo", "team_slug"]).size().reset_index(name="n")
    counted = counted.sort_values(["repo", "n", "team_slug"], ascending=[True, False, True])
    repo_owner = dict(counted.drop_duplicates("repo")[["repo", "team_slug"]].itertuples(index=False, name=None))
    by_author = cand.dropna(subset=["team_slug"])[["repo", "number", "team_slug"]]
    owned = by_author[by_author["team_slug"] == by_author["repo"].map(repo_owner)]
    # An author on several teams: the repo's owner wins when it is one of them, else all count.
    resolved = pd.concat([owned, by_author[~by_author.set_index(["repo", "number"]).index.isin(
        owned.set_index(["repo", "number"]).index)]], ignore_index=True).assign(team_source="author")
    orphans = prs[~prs.set_index(["repo", "number"]).index.isin(resolved.set_index(["repo", "number"]).index)]
    fallback = orphans.assign(team_slug=orphans["repo"].map(repo_owner), team_source="repo").dropna(subset=["team_slug"])
    out = pd.concat([resolved, fallback[["repo", "number", "team_slug", "team_source"]]], ignore_index=True)
    return out.sort_values(["repo", "number", "team_slug"]).reset_index(drop=True), repo_owner


# -- pull request measures -------------------------------------------------------------------------
def first_reviews(pulls: pd.DataFrame, reviews: pd.DataFrame) -> pd.Series:
    """Time of each pull request's first submitted review by someone other than its author (NaT if none)."""
    rv = reviews.dropna(subset=["submitted_at"])
    rv = rv[rv["state"].fillna("").str.upper() != "PENDING"]
    rv = rv.merge(pulls[["repo", "number", "author_login"]], on=["repo", "number"], how="inner")
    rv = rv[rv["reviewer_login"].fillna("") != rv["author_login"].fillna("\0")]
    first = rv.groupby(["repo", "number"])["submitted_at"].min()
    keys = pd.MultiIndex.from_frame(pulls[["repo", "number"]])
    return pd.Series(first.reindex(keys).to_numpy(), index=pulls.index, dtype="datetime64[ns]")


def pull_measures(pulls: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """Per pull request: work_started_at, cycle_hours, first_review_at, review_hours, is_revert (see the module docstring)."""
    out = pulls.copy()
    start = out["created_at"]
    if "first_commit_at" in out:
        start = out["first_commit_at"].where(out["first_commit_at"].notna() & (out["first_commit_at"] < start), start)
    out["work_started_at"] = start
    out["cycle_hours"] = (out["merged_at"] - start) / HOUR
    out["first_review_at"] = first_reviews(out, reviews)
    out["review_hours"] = (out["first_review_at"] - out["created_at"]) / HOUR
    out["is_revert"] = out["title"].fillna("").str.match(REVERT_TITLE) | out["head_ref"].fillna("").str.match(REVERT_BRANCH)
    return out


# -- deployments and failures ----------------------------------------------------------------------
def successful_deployments(deployments: pd.DataFrame, statuses: pd.DataFrame) -> pd.DataFrame:
    """Deployments with a success status, timed at their first success, production only where named."""
    env = deployments["environment"].fillna("").str.lower()
    is_prod = env.isin(PRODUCTION_ENVIRONMENTS)
    repos_with_prod = set(deployments.loc[is_prod, "repo"])
    keep = is_prod | ~deployments["repo"].isin(repos_with_prod)
    ok = statuses[statuses["state"].fillna("").str.lower() == "success"]
    first_ok = ok.groupby(["repo", "deployment_id"], as_index=False)["created_at"].min().rename(
        columns={"created_at": "deployed_at"})
    out = deployments[keep].merge(first_ok, on=["repo", "deployment_id"], how="inner")
    out["sha"] = out["sha"].fillna("").str.lower()
    return out.sort_values(["repo", "deployed_at", "deployment_id"]).reset_index(drop=True)


def shipped_by(pulls: pd.DataFrame, deps: pd.DataFrame) -> pd.DataFrame:
    """The deployment that shipped each merged pull request, and its lead time (see the module docstring).

    `pulls` has repo, number, merged_at and work_started_at (`pull_measures`); `deps` is
    `successful_deployments`. Returns repo, number, shipped_deployment_id, shipped_at (the first
    success of that deployment) and lead_hours, one row per merged pull request that a deployment shipped.
    """
    columns = ["repo", "number", "shipped_deployment_id", "shipped_at", "lead_hours"]
    merged = pulls.dropna(subset=["merged_at"])[["repo", "number", "merged_at", "work_started_at"]]
    if merged.empty or deps.empty:
        return pd.DataFrame(columns=columns)
    left = merged.sort_values(["merged_at", "repo", "number"]).astype({"merged_at": "datetime64[ns]"})
    right = (deps[["repo", "deployment_id", "created_at", "deployed_at"]]
             .sort_values(["created_at", "deployment_id"]).astype({"created_at": "datetime64[ns]"}))
    out = pd.merge_asof(left, right, left_on="merged_at", right_on="created_at", by="repo", direction="forward",
                        allow_exact_matches=True).dropna(subset=["deployment_id"])
    out = out.rename(columns={"deployment_id": "shipped_deployment_id", "deployed_at": "shipped_at"})
    out["shipped_deployment_id"] = out["shipped_deployment_id"].astype("int64")
    out["lead_hours"] = (out["shipped_at"] - out["work_started_at"]) / HOUR
    return out[columns].sort_values(["repo", "number"]).reset_index(drop=True)


def _first_deployment_after(deps: pd.DataFrame, repo: str, when) -> object | None:
    """The repo's first deployment created at or after `when`: the one that shipped a change merged then."""
    if pd.isna(when):
        return None
    rows = deps[(deps["repo"] == repo) & (deps["created_at"] >= when)].sort_values(["created_at", "deployment_id"])
    return None if rows.empty else rows.iloc[0]["deployment_id"]


def _sha_matches(series: pd.Series, sha: str) -> pd.Series:
    return series.fillna("").str.lower().str.startswith(sha)


def link_incidents(incidents: pd.DataFrame, deps: pd.DataFrame, pulls: pd.DataFrame) -> pd.Series:
    """The deployment each incident names as its root cause (NaN when it names none we can find).

    The root-cause sha may be the deployed commit itself, or a commit of a pull request (merge
    or head commit): then the deployment that shipped that pull request.
    """
    linked = []
    for inc in incidents.itertuples(index=False):
        sha = str(inc.root_cause_sha or "").lower()
        found = None
        if len(sha) >= 7:
            same = deps[(deps["repo"] == inc.repo) & _sha_matches(deps["sha"], sha)]
            if not same.empty:
                before = same[same["deployed_at"] <= inc.created_at]
                found = (before.iloc[-1] if not before.empty else same.iloc[0])["deployment_id"]
            else:
                prs = pulls[(pulls["repo"] == inc.repo) & pulls["merged_at"].notna()
                            & (_sha_matches(pulls["merge_commit_sha"], sha) | _sha_matches(pulls["head_sha"], sha))]
                if not prs.empty:
                    found = _first_deployment_after(deps, inc.repo, prs["merged_at"].min())
        linked.append(found)
    return pd.Series(linked, index=incidents.index, dtype="float64")


def reverted_deployments(pulls: pd.DataFrame, deps: pd.DataFrame) -> pd.DataFrame:
    """Deployments that shipped a pull request later reverted: repo, deployment_id, revert_number."""
    merged = pulls[pulls["merged_at"].notna()]
    rows = []
    for pr in merged[merged["is_revert"]].itertuples(index=False):
        original = None
        m = REVERT_BRANCH.match(pr.head_ref or "")
        if m:
            hit = merged[(merged["repo"] == pr.repo) & (merged["number"] == int(m.group("number")))]
            original = hit.iloc[0] if not hit.empty else None
        if original is None:
            t = REVERT_TITLE.match(pr.title or "")
            if t:
                hit = merged[(merged["repo"] == pr.repo) & (merged["title"] == t.group("title"))
                             & (merged["merged_at"] < pr.merged_at)]
                original = hit.sort_values("merged_at").iloc[-1] if not hit.empty else None
        if original is None:
            continue
        dep = _first_deployment_after(deps, pr.repo, original["merged_at"])
        if dep is None:
            continue
        shipped_at = deps.loc[(deps["repo"] == pr.repo) & (deps["deployment_id"] == dep), "deployed_at"].iloc[0]
        if pr.merged_at > shipped_at:  # reverted before it shipped: never a production failure
            rows.append({"repo": pr.repo, "deployment_id": dep, "revert_number": pr.number})
    return pd.DataFrame(rows, columns=["repo", "deployment_id", "revert_number"])


def _incident_labelled(labels, label: str) -> bool:
    if labels is None or (isinstance(labels, float) and np.isnan(labels)):
        return False
    return any(str(x).lower() == label.lower() for x in list(labels))


# -- assembling the events -------------------------------------------------------------------------
def delivery_events(inputs: DeliveryInputs, incident_label: str = "incident") -> DeliveryEvents:
    """Attribute every pull request, deployment and incident to teams and compute their measures."""
    pulls = pull_measures(inputs.pulls, inputs.reviews)
    pr_team, repo_owner = attribute_pulls(pulls, inputs.membership)
    deps = successful_deployments(inputs.deployments, inputs.statuses)
    pulls = pulls.merge(shipped_by(pulls, deps), on=["repo", "number"], how="left")
    prs = pr_team.merge(pulls, on=["repo", "number"], how="left")

    merged_by_sha = pulls[pulls["merge_commit_sha"].notna()].assign(
        sha=lambda f: f["merge_commit_sha"].str.lower())[["repo", "number", "sha"]].drop_duplicates(["repo", "sha"])
    dep_pr = deps.merge(merged_by_sha, on=["repo", "sha"], how="left")
    dep_team = dep_pr.merge(pr_team, on=["repo", "number"], how="left")
    dep_team["team_source"] = dep_team["team_source"].where(dep_team["team_slug"].isna(), "pull request")
    no_team = dep_team["team_slug"].isna()
    dep_team.loc[no_team, "team_slug"] = dep_team.loc[no_team, "repo"].map(repo_owner)
    dep_team.loc[no_team, "team_source"] = "repo"
    dep_team = dep_team.dropna(subset=["team_slug"]).drop(columns=["number"])

    labelled = np.array([_incident_labelled(x, incident_label) for x in inputs.incidents["labels"]], dtype=bool)
    incidents = inputs.incidents[labelled].copy()
    incidents["deployment_id"] = link_incidents(incidents, deps, pulls)
    incidents["restore_hours"] = (incidents["closed_at"] - incidents["created_at"]) / HOUR
    reverts = reverted_deployments(pulls, deps)

    by_incident = incidents.dropna(subset=["deployment_id"])[["repo", "deployment_id"]].assign(reason="incident root cause")
    by_revert = reverts[["repo", "deployment_id"]].assign(reason="revert")
    reasons = pd.concat([by_incident, by_revert], ignore_index=True)
    reasons["deployment_id"] = reasons["deployment_id"].astype("int64")
    reasons = reasons.groupby(["repo", "deployment_id"])["reason"].agg(lambda r: ", ".join(sorted(set(r)))).reset_index()
    dep_team = dep_team.merge(reasons.rename(columns={"reason": "failure_reason"}), on=["repo", "deployment_id"], how="left")
    dep_team["failed"] = dep_team["failure_reason"].notna()

    teams_of_dep = dep_team[["repo", "deployment_id", "team_slug"]].drop_duplicates()
    inc = incidents.merge(teams_of_dep.assign(deployment_id=lambda f: f["deployment_id"].astype("float64")),
                          on=["repo", "deployment_id"], how="left")
    inc["team_source"] = np.where(inc["team_slug"].notna(), "deployment", "repo")
    inc["team_slug"] = inc["team_slug"].fillna(inc["repo"].map(repo_owner))
    inc = inc.dropna(subset=["team_slug"])
    return DeliveryEvents(prs.reset_index(drop=True), dep_team.reset_index(drop=True), inc.reset_index(drop=True), repo_owner)


# -- loading from the warehouse --------------------------------------------------------------------
def load_delivery_inputs(con: duckdb.DuckDBPyConnection, start: date, end: date, lookback_days: int = 60) -> DeliveryInputs:
    """Read the delivery tables for events in `start`..`end`, plus `lookback_days` before for context
    (pull requests reverted or shipped later, incidents naming older deployments).

    Membership is read only for the pull-request authors and days it is needed for.
    """
    since = datetime.combine(start - timedelta(days=lookback_days), datetime.min.time())
    until = datetime.combine(end + timedelta(days=1), datetime.min.time())
    args = [since, until]
    pulls = con.execute("""
        SELECT repo, number, author_id, author_login, title, head_ref, head_sha, created_at, merged_at,
               lower(merge_commit_sha) AS merge_commit_sha
        FROM pull_request
        WHERE created_at < $2 AND coalesce(merged_at, closed_at, created_at) >= $1
    """, args).df()
    reviews = con.execute("""
        SELECT r.repo, r.number, r.reviewer_login, r.state, r.submitted_at FROM review r
        JOIN pull_request p USING (repo, number)
        WHERE p.created_at < $2 AND coalesce(p.merged_at, p.closed_at, p.created_at) >= $1
    """, args).df()
    deployments = con.execute("""SELECT repo, deployment_id, sha, environment, created_at FROM deployment
                                 WHERE created_at >= $1 AND created_at < $2""", args).df()
    statuses = con.execute("""SELECT s.repo, s.deployment_id, s.state, s.created_at FROM deployment_status s
                              JOIN deployment d USING (repo, deployment_id)
                              WHERE d.created_at >= $1 AND d.created_at < $2""", args).df()
    incidents = con.execute("""SELECT repo, number, created_at, closed_at, root_cause_sha, labels FROM incident
                               WHERE created_at >= $1 AND created_at < $2""", args).df()
    membership = con.execute("""
        WITH author_days AS (
            SELECT DISTINCT author_id AS user_id, CAST(coalesce(merged_at, created_at) AS DATE) AS day
            FROM pull_request
            WHERE author_id IS NOT NULL AND created_at < $2 AND coalesce(merged_at, closed_at, created_at) >= $1)
        SELECT DISTINCT m.day, m.user_id, m.team_slug
        FROM int_team_member_day m JOIN author_days a USING (user_id, day)
    """, args).df()
    return DeliveryInputs(pulls, reviews, deployments, statuses, incidents, membership)
