"""Cost per agent task: coding-agent and cloud-agent work priced per task and per merged agent pull request, beside
the cost per human-authored merged change, per team; and the month's bill split so that it adds up.

Definitions (one place for each):

- agent pull request: opened by one of `agents.author_logins`, or from a branch starting with one of
  `agents.branch_prefixes` (an agent session pushing to a pull request someone opened). Its requester is its first
  assignee who is not an agent (the coding agent assigns whoever asked for the work), else its author when the
  author is a person. An agent task is an agent pull request opened in the month.
- agent credits: the billing API's AI-credit usage whose SKU or product names cloud-agent work
  (`agents.cloud_agent_billing`), billed per requester and month. When the users report does not count them
  (`agents.credits_in_usage_report: false`) they come on top of the users report's credits; when it does, they are
  taken out of the requester's credits, so no credit counts twice.
- Actions minutes: the billing usage items whose workflow names Copilot code review (`agents.code_review_workflows`)
  or agent sessions (`agents.agent_workflows`), at their billed (net) amount. Agent-session minutes of a repository
  and month are shared over the agent pull requests opened there that month; code-review minutes over every pull
  request opened there that month, agent or human. The billing API shows the workflow only where GitHub gives it.
- the month's bill: seat cost + the AI credits of the month (the users report's and the agent credits it does not
  count) beyond the included pool, x the credit price + premium requests + those Actions minutes. Every credit costs
  the same here, the pool shared in proportion to credits (page 02 shares it by `pool_allocation`).
- split: each person counts once, shared equally over the teams they were on that day (`bill.split_team_quantities`);
  seats, credits and pull requests of people on no team are "unattributed", as is agent work with no requester.
  agent + human + unattributed = the month's bill.
- per merged change: agent cost / agent pull requests merged in the month; human cost / pull requests merged in the
  month by the team's members (GitHub's join rule, as on page 02), agent pull requests left out.
- folded row: the bill's totals less the teams shown give the teams not shown, so those are shown only together, in
  one row of k or more people: the teams under k members or active developers and, when they hold fewer people, the
  smallest teams shown (`_folded`).
"""
from __future__ import annotations

import duckdb
import pandas as pd

from . import bill, cache, figures, formatting, privacy, usage
from .cost import credit_bill, credit_era, org_month_quantities, seat_cost
from .params import OrgParams
from .period import Period

NO_TEAM = ""


def _like_any(column: str, patterns: list[str]) -> str:
    """SQL: `column` contains one of the patterns, ignoring case (patterns are bound as one list parameter)."""
    return f"list_bool_or(list_transform(?, lambda p: contains(lower(coalesce({column}, '')), lower(p))))"


PULLS_SQL = """
WITH prs AS (
    SELECT repo, number, author_login, author_id, head_ref, created_at::DATE AS created_day,
           created_at::DATE BETWEEN ? AND ? AS opened, coalesce(merged_at::DATE BETWEEN ? AND ?, false) AS merged,
           list_contains(?, lower(coalesce(author_login, '')))
               OR list_bool_or(list_transform(?, lambda p: starts_with(lower(coalesce(head_ref, '')), lower(p)))) AS by_agent
    FROM pull_request
    WHERE (created_at::DATE BETWEEN ? AND ?) OR (merged_at::DATE BETWEEN ? AND ?)
),
assignee AS (
    SELECT repo, number, arg_min(login, CASE role WHEN 'assignee' THEN 0 ELSE 1 END) AS login
    FROM pull_request_person WHERE NOT list_contains(?, lower(login)) GROUP BY repo, number
)
SELECT p.repo, p.number, p.by_agent, p.created_day, p.opened, p.merged,
       CASE WHEN p.by_agent THEN coalesce(l.user_id, CASE WHEN NOT list_contains(?, lower(coalesce(p.author_login, '')))
                                                          THEN p.author_id END)
            ELSE p.author_id END AS person_id
FROM prs p LEFT JOIN assignee a USING (repo, number) LEFT JOIN int_user_login l ON l.login = lower(a.login)
"""


def _share_of_day(con: duckdb.DuckDBPyConnection, period: Period, pairs: pd.DataFrame) -> pd.DataFrame:
    """`pairs` (key, person_id, day) shared over the person's teams that day: key, team_slug, weight (summing to 1
    per key; team_slug '' when the person was on no team or is unknown)."""
    cur = con.cursor()
    try:
        cur.register("pairs", pairs)
        return cur.execute("""
            WITH m AS (SELECT day, user_id, team_slug, 1.0 / count(*) OVER (PARTITION BY day, user_id) AS w
                       FROM int_team_member_day WHERE day BETWEEN ? AND ?
                         AND user_id IN (SELECT person_id FROM pairs))  -- a person-day's teams: only these people's
            SELECT p.key, coalesce(m.team_slug, '') AS team_slug, coalesce(m.w, 1.0) AS weight
            FROM pairs p LEFT JOIN m ON m.user_id = p.person_id AND m.day = p.day
        """, [period.start, period.end]).df()
    finally:
        cur.close()


def _agent_credit_rows(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> pd.DataFrame:
    """The month's agent credits per requester: login, user_id, credits (the billing API's cloud-agent usage)."""
    match = params.agents.cloud_agent_billing
    return con.execute(f"""
        SELECT lower(c.user_login) AS login, l.user_id, sum(c.quantity) AS credits
        FROM stg_credit_usage c LEFT JOIN int_user_login l ON l.login = lower(c.user_login)
        WHERE c.period = ? AND c.billing_kind = 'ai-credit-usage'
          AND ({_like_any('c.sku', match)} OR {_like_any('c.product', match)})
        GROUP BY 1, 2""", [period.label, match, match]).df()


def credits_beyond_usage_report(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> float:
    """Cloud-agent credits the month's bill counts on top of the users report's: all of them when params say the
    report does not count them (`agents.credits_in_usage_report: false`), else none. The one definition the agents
    bill and the what-if's pool (page 07) share: those credits use the included pool too."""
    if params.agents.credits_in_usage_report:
        return 0.0
    return float(_agent_credit_rows(con, period, params)["credits"].sum())


def _agent_credits(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> pd.DataFrame:
    """Agent credits per team (each requester once, shared over their team-days of the month): team_slug, credits."""
    rows = _agent_credit_rows(con, period, params)
    if rows.empty:
        return pd.DataFrame({"team_slug": [], "credits": [], "person_id": []})
    days = con.execute("""SELECT user_id, team_slug, count(*) AS days FROM int_team_member_day
                          WHERE day BETWEEN ? AND ? GROUP BY 1, 2""", [period.start, period.end]).df()
    days["weight"] = days["days"] / days.groupby("user_id")["days"].transform("sum")
    merged = rows.merge(days, on="user_id", how="left")
    merged["team_slug"] = merged["team_slug"].fillna(NO_TEAM)
    merged["weight"] = merged["weight"].fillna(1.0)
    merged["credits"] = merged["credits"] * merged["weight"]
    return merged.rename(columns={"user_id": "person_id"})[["team_slug", "credits", "person_id"]]


def _actions(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> pd.DataFrame:
    """Copilot's Actions minutes of the month per repository: repo, review_cost, review_minutes, agent_cost,
    agent_minutes (billed amounts)."""
    review, agent = params.agents.code_review_workflows, params.agents.agent_workflows
    return con.execute(f"""
        SELECT coalesce(repository, '') AS repo,
               coalesce(sum(coalesce(net_amount, gross_amount - coalesce(discount_amount, 0)))
                        FILTER (WHERE {_like_any('workflow', review)}), 0) AS review_cost,
               coalesce(sum(quantity) FILTER (WHERE {_like_any('workflow', review)}), 0) AS review_minutes,
               coalesce(sum(coalesce(net_amount, gross_amount - coalesce(discount_amount, 0)))
                        FILTER (WHERE {_like_any('workflow', agent)}), 0) AS agent_cost,
               coalesce(sum(quantity) FILTER (WHERE {_like_any('workflow', agent)}), 0) AS agent_minutes
        FROM billing_usage_item WHERE period = ? GROUP BY 1
        HAVING review_cost <> 0 OR agent_cost <> 0 OR review_minutes <> 0 OR agent_minutes <> 0
    """, [review, review, agent, agent, period.label]).df()


@cache.memoised("agent-costs")
def agent_costs(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams) -> tuple[pd.DataFrame, dict]:
    """Agent and human cost per team for the month, and the reconciliation with the month's bill (memoised beside
    the warehouse: every team's page 02 reads it).

    Returns
    -------
    teams : one row per team (and '' for what no team carries): agent_tasks, agent_prs_merged, agent_credits,
        agent_credit_cost, agent_actions_cost, agent_cost, agent_cost_per_task, agent_cost_per_merged_pr,
        human_credits, human_seat_cost, human_credit_cost, human_other_cost, human_cost, human_merged_changes,
        human_cost_per_merged_change, members, below_k, folded (shown only in `folded_row`). Money in the billing
        currency.
    org : bill, seat_cost, credit_cost, premium_cost, actions_cost, agent (sum over teams), human (sum over teams),
        unattributed (the '' row, agent and human), credits (all of the month's credits), agent_credits,
        agent_credits_outside_usage_report, credit_rate (money per credit after the pool), difference (bill minus the
        three parts: zero up to rounding).
    """
    start, end = period.start, period.end
    agents_lower = [a.lower() for a in params.agents.author_logins]
    prefixes = params.agents.branch_prefixes
    split = bill.split_team_quantities(con, period, params).set_index("team_slug")
    org = org_month_quantities(con, period)
    agent_credits = _agent_credits(con, period, params)
    in_report = params.agents.credits_in_usage_report
    total_agent = float(agent_credits["credits"].sum())
    beyond = credits_beyond_usage_report(con, period, params)
    credits_all = float(org["ai_credits"]) + beyond
    credit_cost = credit_bill(org, params, period, credits_all)["credit_cost"]
    rate = credit_cost / credits_all if credits_all else 0.0

    prs = con.execute(PULLS_SQL, [start, end, start, end, agents_lower, prefixes, start, end, start, end, agents_lower,
                                  agents_lower]).df()
    prs["key"] = prs["repo"] + "#" + prs["number"].astype(str)
    opened, merged = prs[prs["opened"]], prs[prs["merged"]]
    opened_w = _share_of_day(con, period, opened.assign(day=opened["created_day"])[["key", "person_id", "day"]])
    opened_w = opened_w.merge(opened[["key", "repo", "by_agent"]], on="key")

    actions = _actions(con, period, params).set_index("repo")
    prs_in_repo = opened.groupby("repo").size()
    agent_prs_in_repo = opened[opened["by_agent"]].groupby("repo").size()
    per_pr_review = (actions["review_cost"] / prs_in_repo.reindex(actions.index)).fillna(0.0)
    per_pr_agent = (actions["agent_cost"] / agent_prs_in_repo.reindex(actions.index)).fillna(0.0)
    opened_w["review_cost"] = opened_w["weight"] * opened_w["repo"].map(per_pr_review).fillna(0.0)
    opened_w["agent_minutes_cost"] = (opened_w["weight"] * opened_w["repo"].map(per_pr_agent).fillna(0.0)
                                      * opened_w["by_agent"])
    # Actions minutes of repositories with no pull request (or no agent pull request) to carry them
    stray_review = float(actions.loc[~actions.index.isin(prs_in_repo.index), "review_cost"].sum())
    stray_agent = float(actions.loc[~actions.index.isin(agent_prs_in_repo.index), "agent_cost"].sum())

    teams = sorted(set(split.index) | set(opened_w["team_slug"]) | set(agent_credits["team_slug"]))
    out = pd.DataFrame(index=pd.Index(teams, name="team_slug"))
    agent_w = opened_w[opened_w["by_agent"]]
    out["agent_tasks"] = agent_w.groupby("team_slug")["weight"].sum()
    merged_agent = merged[merged["by_agent"]]
    merged_agent_w = _share_of_day(con, period, merged_agent.assign(day=merged_agent["created_day"])[
        ["key", "person_id", "day"]])
    out["agent_prs_merged"] = merged_agent_w.groupby("team_slug")["weight"].sum()
    out["agent_credits"] = agent_credits.groupby("team_slug")["credits"].sum()
    out = out.fillna(0.0)
    out["agent_credit_cost"] = out["agent_credits"] * rate
    out["agent_actions_cost"] = (agent_w.groupby("team_slug")[["review_cost", "agent_minutes_cost"]].sum().sum(axis=1)
                                 .reindex(out.index).fillna(0.0))
    human_w = opened_w[~opened_w["by_agent"]]
    out["human_review_cost"] = human_w.groupby("team_slug")["review_cost"].sum().reindex(out.index).fillna(0.0)
    if NO_TEAM in out.index or stray_review or stray_agent:
        out.loc[NO_TEAM] = out.reindex([NO_TEAM]).fillna(0.0).iloc[0]
        out.loc[NO_TEAM, "human_review_cost"] += stray_review
        out.loc[NO_TEAM, "agent_actions_cost"] += stray_agent
    out["agent_cost"] = out["agent_credit_cost"] + out["agent_actions_cost"]

    split = split.reindex(out.index).fillna(0.0)
    taken_out = agent_credits.groupby("team_slug")["credits"].sum().reindex(out.index).fillna(0.0) if in_report else 0.0
    out["human_credits"] = (split["ai_credits"] - taken_out).clip(lower=0.0)
    out["human_seat_cost"] = seat_cost(split, params)
    out["human_credit_cost"] = out["human_credits"] * rate
    premium = split["premium_billable_requests"] * params.prices.premium_request if not credit_era(period, params) else 0.0
    out["human_other_cost"] = out["human_review_cost"] + premium
    out["human_cost"] = out["human_seat_cost"] + out["human_credit_cost"] + out["human_other_cost"]
    agent_keys = set(prs.loc[prs["by_agent"], "key"])
    human_merged = _human_merged(con, period, agent_keys)
    out["human_merged_changes"] = pd.Series(human_merged, dtype="float64").reindex(out.index).fillna(0.0)
    out["agent_cost_per_task"] = out["agent_cost"] / out["agent_tasks"].where(out["agent_tasks"] > 0)
    out["agent_cost_per_merged_pr"] = out["agent_cost"] / out["agent_prs_merged"].where(out["agent_prs_merged"] > 0)
    out["human_cost_per_merged_change"] = out["human_cost"] / out["human_merged_changes"].where(
        out["human_merged_changes"] > 0)
    sizes = usage.team_sizes(con, period)
    small = usage.small_teams(sizes, params.privacy.k_anonymity)  # as on the team's own pages
    out["members"] = [sizes.get(t, (0, 0))[0] for t in out.index]
    out["below_k"] = [t != NO_TEAM and (t in small or t not in sizes) for t in out.index]
    out["folded"] = _folded(con, period, out, params.privacy.k_anonymity)
    out = out.reset_index()

    teams_only = out[out["team_slug"] != NO_TEAM]
    unattributed = out[out["team_slug"] == NO_TEAM]
    seat_total = float(out["human_seat_cost"].sum())
    premium_total = float(out["human_other_cost"].sum() - out["human_review_cost"].sum())
    actions_total = float(actions["review_cost"].sum() + actions["agent_cost"].sum())
    summary = {
        "bill": seat_total + credit_cost + premium_total + actions_total, "seat_cost": seat_total,
        "credit_cost": credit_cost, "premium_cost": premium_total, "actions_cost": actions_total,
        "agent": float(teams_only["agent_cost"].sum()), "human": float(teams_only["human_cost"].sum()),
        "unattributed": float(unattributed["agent_cost"].sum() + unattributed["human_cost"].sum()),
        "credits": credits_all, "agent_credits": total_agent,
        "agent_credits_outside_usage_report": beyond, "credit_rate": rate,
        "agent_tasks": float(out["agent_tasks"].sum()), "agent_prs_merged": float(out["agent_prs_merged"].sum())}
    summary["difference"] = summary["bill"] - summary["agent"] - summary["human"] - summary["unattributed"]
    return out.drop(columns=["human_review_cost"]), summary


def _folded(con: duckdb.DuckDBPyConnection, period: Period, out: pd.DataFrame, k: int) -> list[bool]:
    """Which teams' figures are shown only together, in one folded row: the teams under k, and, while their people
    come to 1 .. k-1, the smallest team shown too. The bill less the teams shown gives the folded row, so it must hold
    k or more people (as repos folds repositories, and the overview blanks a segment that would reveal its teams)."""
    folded = {t for t in out.index if out.at[t, "below_k"]}
    if not folded:
        return [False] * len(out)
    people = con.execute("SELECT DISTINCT team_slug, user_id FROM int_team_member_day WHERE day BETWEEN ? AND ?",
                         [period.start, period.end]).df()
    shown = sorted((t for t in out.index if t != NO_TEAM and t not in folded), key=lambda t: (out.at[t, "members"], t))
    while shown and privacy.small_group(people.loc[people["team_slug"].isin(folded), "user_id"].nunique(), k):
        folded.add(shown.pop(0))
    return [t in folded for t in out.index]


def folded_row(teams: pd.DataFrame, k: int) -> dict | None:
    """The folded teams' figures together (sums; the per-task and per-change figures of the sums), or None."""
    rows = teams[teams["folded"]]
    if rows.empty:
        return None
    out = {c: float(rows[c].sum()) for c in teams.columns if c not in (
        "team_slug", "below_k", "folded", "agent_cost_per_task", "agent_cost_per_merged_pr",
        "human_cost_per_merged_change")}
    per = lambda a, b: out[a] / out[b] if out[b] > 0 else float("nan")  # noqa: E731
    out.update(team_slug=FOLDED.format(n=len(rows), k=int(k)), below_k=False, folded=True, teams=len(rows),
               agent_cost_per_task=per("agent_cost", "agent_tasks"),
               agent_cost_per_merged_pr=per("agent_cost", "agent_prs_merged"),
               human_cost_per_merged_change=per("human_cost", "human_merged_changes"))
    return out


def _human_merged(con: duckdb.DuckDBPyConnection, period: Period, agent_keys: set[str]) -> dict[str, int]:
    """Pull requests merged in the month by each team's members (GitHub's join rule), agent pull requests left out."""
    rows = con.execute("""
        SELECT m.team_slug, p.repo || '#' || p.number AS key FROM stg_pull_request p
        JOIN int_team_member_day m ON m.user_id = p.author_id AND m.day = p.merged_day
        WHERE p.merged_day BETWEEN ? AND ?""", [period.start, period.end]).df()
    rows = rows[~rows["key"].isin(agent_keys)]
    return rows.groupby("team_slug").size().to_dict()


# -- words and tables ------------------------------------------------------------------------------------------------
COLUMNS = ["agent_tasks", "agent_prs_merged", "agent_cost", "agent_cost_per_task", "agent_cost_per_merged_pr",
           "human_merged_changes", "human_cost", "human_cost_per_merged_change"]
UNATTRIBUTED = "unattributed (no team)"
FOLDED = "{n} teams together (each under {k} developers, or joined to make {k})"


def team_table(teams: pd.DataFrame, params: OrgParams, only: list[str] | None = None,
               unattributed: bool = True) -> pd.DataFrame:
    """Agent beside human cost per team (money in the billing currency), teams under k members or active developers
    suppressed, then the unattributed row (people on no team, agent work with no requester) unless `unattributed` is
    False."""
    k, cur = params.privacy.k_anonymity, params.currency
    rows, fold = [], folded_row(teams, k)
    picked = [r for r in teams.sort_values("team_slug").to_dict("records")
              if not (r["team_slug"] == NO_TEAM and not unattributed)
              and (only is None or r["team_slug"] in only or r["team_slug"] == NO_TEAM)]
    for r in picked:
        hide = formatting.suppressed_label(k) if r["below_k"] else formatting.folded_label() if r["folded"] else None
        rows.append({"team": r["team_slug"] or UNATTRIBUTED,
                     **{figures.label(key): hide or figures.show(key, r[key], currency=cur) for key in COLUMNS}})
    if fold is not None and (only is None or any(r["folded"] for r in picked)):
        rows.append({"team": fold["team_slug"], **{figures.label(key): figures.show(key, fold[key], currency=cur)
                                                   for key in COLUMNS}})
    return pd.DataFrame(rows)


def reconciliation_markdown(org: dict, params: OrgParams, period: Period) -> str:
    cur = params.currency

    def money(value) -> str:
        return formatting.money(value, cur)

    outside = (f" It includes {figures.show('ai_credits', org['agent_credits_outside_usage_report'])} cloud-agent "
               "credits the users report does not count (params: agents.credits_in_usage_report), which page 02's "
               "cost model leaves out." if org["agent_credits_outside_usage_report"] else "")
    return (f"**The month's bill, {period.label}: {figures.show('bill', org['bill'], currency=cur)}** = seats "
            f"{money(org['seat_cost'])} + AI credits beyond the included pool {money(org['credit_cost'])} (a credit "
            f"costs {formatting.number(org['credit_rate'], 5)} {cur} after the pool) + premium requests "
            f"{money(org['premium_cost'])} + Actions minutes of Copilot code review and agent sessions "
            f"{money(org['actions_cost'])}.{outside} Split: agent work {money(org['agent'])} + human work "
            f"{money(org['human'])} + unattributed {money(org['unattributed'])} (people on no team, agent work with no "
            f"requester) = {money(org['agent'] + org['human'] + org['unattributed'])}.")


JSON_FIGURES = {"agent_tasks": "agent_tasks", "agent_prs_merged": "agent_prs_merged", "agent_credits": "ai_credits",
                "agent_credit_cost": "agent_cost", "agent_actions_cost": "agent_cost", "agent_cost": "agent_cost",
                "agent_cost_per_task": "agent_cost_per_task", "agent_cost_per_merged_pr": "agent_cost_per_merged_pr",
                "human_merged_changes": "human_merged_changes", "human_seat_cost": "seat_cost",
                "human_credit_cost": "ai_credit_cost", "human_other_cost": "human_cost", "human_cost": "human_cost",
                "human_cost_per_merged_change": "human_cost_per_merged_change"}


def document(teams: pd.DataFrame, org: dict, params: OrgParams, period: Period) -> dict:
    """The --json document: per team (figures None when suppressed), the unattributed row and the bill's split."""
    k = params.privacy.k_anonymity
    out = []
    for r in teams.sort_values("team_slug").to_dict("records"):
        hide = bool(r["below_k"] or r["folded"])
        out.append({"team_slug": r["team_slug"] or None, "unattributed": r["team_slug"] == NO_TEAM, "suppressed": hide,
                    "folded": bool(r["folded"]), **{name: None if hide else figures.json_value(key, r[name], k=k)
                                                    for name, key in JSON_FIGURES.items()}})
    fold = folded_row(teams, k)
    folded = None if fold is None else {"teams": fold["teams"], **{name: figures.json_value(key, fold[name], k=k)
                                                                   for name, key in JSON_FIGURES.items()}}
    bill_doc = {name: figures.json_value("bill", value) if isinstance(value, float) else value
                for name, value in org.items()}
    return {"period": period.label, "currency": params.currency, "k": k, "teams": out, "folded_teams": folded,
            "bill": bill_doc}
