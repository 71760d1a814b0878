"""Per repository: where the month's AI credits went and what came out of them, reconciled with the team figures.

Definitions (one place for each):

- a person's repositories in a month: the repositories of the pull requests they opened that month (for an agent
  pull request, its requester: see `agents`). Their credits are spread over them in proportion to those pull
  requests; credits of a month without a pull request opened stay "(no pull request)". Credits are the cost model's
  (`int_cost_user_day`, as page 02's "AI credits used"); cloud-agent credits the users report does not count are
  spread the same way over the requester's agent pull requests, in their own column.
- a scope's credits: the team's (credits of its members on the days they were on it, GitHub's join rule, so the
  repositories of a team add up to its page-02 figure) or the org's (each person once).
- merged changes of a repository: pull requests merged there in the month by the scope's people (agent pull
  requests by their requester); credits per merged change = the repository's credits / those merged changes.
- developers of a repository: the scope's people whose credits landed there. A repository with fewer than k is not
  shown on its own: it joins "other repositories". GitHub's repository report
  (repos-1-day) adds what it counts per repository: Copilot code reviews and agent pull requests merged.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from . import cache, figures, formatting, privacy
from .agents import PULLS_SQL, _agent_credits
from .params import OrgParams
from .period import Period

NO_PR = "(no pull request)"
OTHER = "other repositories (beyond the top, or too few developers to show alone)"


def _person_repos(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> pd.DataFrame:
    """Each person's pull requests of the month: person_id, repo, opened (share weight), merged (count)."""
    agents_lower = [a.lower() for a in params.agents.author_logins]
    s, e = period.start, period.end
    prs = con.execute(PULLS_SQL, [s, e, s, e, agents_lower, params.agents.branch_prefixes, s, e, s, e, agents_lower,
                                  agents_lower]).df()
    prs = prs[prs["person_id"].notna()]
    prs = prs.assign(agent_merged=prs["merged"] & prs["by_agent"])
    out = prs.groupby(["person_id", "repo"]).agg(opened=("opened", "sum"), merged=("merged", "sum"),
                                                 agent_merged=("agent_merged", "sum")).reset_index()
    out["weight"] = out["opened"] / out.groupby("person_id")["opened"].transform("sum").where(lambda x: x > 0)
    return out


@cache.memoised("repository-credits")
def repository_credits(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> pd.DataFrame:
    """Credits, merged changes and developers per scope and repository for the month.

    Returns one row per (team_slug, repo); team_slug None is the org (each person once); repo NO_PR holds credits of
    people who opened no pull request. Columns: credits, agent_credits (outside the users report), merged_changes,
    agent_merged, developers, copilot_reviews (the whole repository's, from GitHub's repository report; NaN where it
    has none).
    """
    people = _person_repos(con, period, params)
    team_credits = con.execute("""
        SELECT m.team_slug, c.user_id AS person_id, sum(c.ai_credits) AS credits
        FROM int_cost_user_day c JOIN int_team_member_day m USING (day, user_id)
        WHERE c.day BETWEEN ? AND ? GROUP BY 1, 2""", [period.start, period.end]).df()
    org_credits = con.execute("""SELECT NULL::VARCHAR AS team_slug, user_id AS person_id, sum(ai_credits) AS credits
                                 FROM int_cost_user_day WHERE day BETWEEN ? AND ? GROUP BY 2""",
                              [period.start, period.end]).df()
    agent = (_agent_credits(con, period, params) if not params.agents.credits_in_usage_report
             else pd.DataFrame({"team_slug": [], "credits": [], "person_id": []}))
    # a requester's agent credits, shared over their teams by days on each (agents._agent_credits), and whole for the org
    team_credits = team_credits.merge(agent.rename(columns={"credits": "agent_credits"})
                                      .groupby(["team_slug", "person_id"], as_index=False)["agent_credits"].sum(),
                                      on=["team_slug", "person_id"], how="left")
    org_credits = org_credits.merge(agent.groupby("person_id", as_index=False)["credits"].sum()
                                    .rename(columns={"credits": "agent_credits"}), on="person_id", how="left")
    rows = []
    for scope in (team_credits, org_credits):
        spread = scope.merge(people, on="person_id", how="left")
        # people who opened no pull request this month: their credits stay "(no pull request)"; what they merged
        # (opened earlier) still counts where it merged
        idle = spread[spread["weight"].isna()][list(scope.columns)].drop_duplicates()
        spread = spread[spread["repo"].notna()].assign(weight=lambda f: f["weight"].fillna(0.0))
        spread = pd.concat([spread, idle.assign(repo=NO_PR, weight=1.0, opened=0, merged=0, agent_merged=0)],
                           ignore_index=True)
        spread["credits"] = spread["credits"] * spread["weight"]
        spread["agent_credits"] = spread["agent_credits"].fillna(0.0) * spread["weight"]
        rows.append(spread)
    frame = pd.concat(rows, ignore_index=True)
    frame["team_key"] = frame["team_slug"].fillna("\0org")
    out = frame.groupby(["team_key", "repo"]).agg(
        credits=("credits", "sum"), agent_credits=("agent_credits", "sum"), merged_changes=("merged", "sum"),
        agent_merged=("agent_merged", "sum"), developers=("person_id", "nunique")).reset_index()
    out["team_slug"] = out["team_key"].where(out["team_key"] != "\0org", None)
    reviews = con.execute("""SELECT repo, sum(pr_total_reviewed_by_copilot) AS copilot_reviews FROM repo_day
                             WHERE day BETWEEN ? AND ? GROUP BY repo""", [period.start, period.end]).df()
    out = out.merge(reviews, on="repo", how="left")  # a repository's own figure, on team rows too
    out["credits_per_merged_change"] = out["credits"] / out["merged_changes"].where(out["merged_changes"] > 0)
    return out.drop(columns=["team_key"])[["team_slug", "repo", "credits", "agent_credits", "merged_changes",
                                           "agent_merged", "developers", "credits_per_merged_change",
                                           "copilot_reviews"]]


def repository_view(frame: pd.DataFrame, team: str | None, k: int, top: int = 10) -> pd.DataFrame:
    """The scope's repositories by credits per merged change (highest first), those under k developers folded into
    one row with those beyond the `top`, then "(no pull request)" and the total. Figures, not yet formatted.

    The total is the scope's published figure, so a folded row is the total less the rows named: it must hold k or
    more developers too. When every repository in it (and "(no pull request)", folded in when under k) has fewer,
    the lowest named repository joins it, which makes it at least k (its developers are k or more).
    """
    mine = frame[frame["team_slug"].isna()] if team is None else frame[frame["team_slug"] == team]
    repos = mine[mine["repo"] != NO_PR]
    small = privacy.small_group(repos["developers"].fillna(0), k)
    shown = repos[~small].sort_values(["credits_per_merged_change", "credits"], ascending=False, na_position="first")
    named, rest = shown.iloc[:top], pd.concat([shown.iloc[top:], repos[small]])
    no_pr = mine[mine["repo"] == NO_PR]
    if len(no_pr) and privacy.small_group(no_pr["developers"].fillna(0), k).any():
        rest, no_pr = pd.concat([rest, no_pr]), no_pr.iloc[:0]
    if len(rest) and len(named) and not (rest["developers"].fillna(0) >= k).any():
        named, rest = named.iloc[:-1], pd.concat([named.iloc[-1:], rest])
    rows = named.to_dict("records")
    if len(rest):
        rows.append(_sum_row(rest, OTHER))
    if len(no_pr):
        rows.append(_sum_row(no_pr, NO_PR))
    rows.append(_sum_row(mine, "total"))
    out = pd.DataFrame(rows, columns=list(frame.columns))
    out.loc[out["repo"] == NO_PR, ["merged_changes", "credits_per_merged_change"]] = np.nan
    return out


def _sum_row(rows: pd.DataFrame, label: str) -> dict:
    merged = float(rows["merged_changes"].sum())
    credits = float(rows["credits"].sum())
    return {"team_slug": rows["team_slug"].iloc[0], "repo": label, "credits": credits,
            "agent_credits": float(rows["agent_credits"].sum()), "merged_changes": merged,
            "agent_merged": float(rows["agent_merged"].sum()), "developers": np.nan,
            "credits_per_merged_change": credits / merged if merged else np.nan,
            "copilot_reviews": rows["copilot_reviews"].sum(min_count=1)}


DISPLAY = {"repo": "repository", "credits": "repository_credits", "agent_credits": "repository_agent_credits",
           "merged_changes": "repository_merged_changes", "credits_per_merged_change": "credits_per_merged_change",
           "developers": "repository_developers", "copilot_reviews": "copilot_reviews"}


def display(view: pd.DataFrame, k: int) -> pd.DataFrame:
    """The view written for a page through `figures` (a folded or total row has no developer count of its own:
    blank). Repositories under k developers never reach here: `repository_view` folds them."""
    out = {}
    for column, key in DISPLAY.items():
        if column == "repo":
            out["repository"] = view["repo"]
            continue
        out[figures.label(key)] = ["" if formatting.missing(x) else figures.show(key, x) for x in view[column]]
    return pd.DataFrame(out)


def reconcile(frame: pd.DataFrame, con: duckdb.DuckDBPyConnection, period: Period) -> dict:
    """The repository view against the team figures: per team, its repositories' credits against its page-02 AI
    credits (mart_team_month_cost); for the org, against the cost model's org credits (each person once)."""
    teams = dict(con.execute("SELECT team_slug, ai_credits FROM mart_team_month_cost WHERE period = ?",
                             [period.label]).fetchall())
    by_team = frame[frame["team_slug"].notna()].groupby("team_slug")["credits"].sum()
    org = con.execute("SELECT coalesce(sum(ai_credits), 0) FROM int_cost_user_day WHERE day BETWEEN ? AND ?",
                      [period.start, period.end]).fetchone()[0]
    return {"teams": {t: {"repositories": float(by_team.get(t, 0.0)), "team_figure": float(v)} for t, v in teams.items()},
            "org": {"repositories": float(frame.loc[frame["team_slug"].isna(), "credits"].sum()),
                    "org_figure": float(org)}}
