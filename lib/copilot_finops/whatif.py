"""Model-routing what-if: the month re-priced with a share of some prompts moved to another model.

Definitions (one place for each):

- route: `SCOPE[@WHO]:MODEL=SHARE` (e.g. `chat:gpt-5-mini=50%`, `chat_panel_ask_mode@security_engineering:claude-haiku-4.5=30%`).
  SCOPE is `chat` (every chat feature), `cli` (Copilot CLI), `all`, or one feature (`chat_inline`,
  `chat_panel_<mode>_mode`); WHO, optional, a role segment id or a team slug. Several routes are separated by commas;
  where two cover the same prompts the more specific wins (a feature beats `chat`, which beats `all`; a team beats
  a segment, which beats the whole org). A route moves SHARE of the scope's prompts that run on models dearer than
  MODEL; prompts already on a cheaper model stay (routing sends work down, never up).
- a prompt row's credits: each user-day's AI credits (the cost model's, `int_cost_user_day`) split over what used
  them. The CLI takes its tokens priced at `routing.cli_model` (never more than the day's credits); the rest is split
  over the day's IDE prompts per model and feature, each weighted by its model's price per prompt (input and output
  prices blended by `routing.output_token_share`; a model without a price weighs the mean of the priced ones and is
  never moved). Credits of a day with no prompt to carry them (agent edits or reviews alone) are `(other)`, never moved.
- credits saved by moving a row: share x its credits x (1 - target price / its model's price), the prices in effect
  on its day (`model_prices` are dated). For the CLI the two prices are taken on the day's own token mix.
- money saved: credits saved x the AI-credit price. The org's bill changes by less while it stays within its
  included pool: `org_bill_change` says by how much.
- acceptance risk: the accepted-output ratio observed on the target model for the route's features (agent edits
  left out: they carry no acceptances), with a developer-clustered interval, beside the ratio on the prompts that
  would move. A team whose target-model figure rests on fewer than k developers is "too thin to judge".

Team rows follow GitHub's join rule (a developer on two teams counts in both, as on page 02); segment and org totals
count each prompt once.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

import duckdb
import numpy as np
import pandas as pd

from . import agents, cache, privacy, usage
from .cost import credit_bill, org_month_quantities
from .errors import UserError
from .params import SEGMENT_IDS, OrgParams
from .period import Period
from .whatif_routes import Route, parse_routes

OTHER = "(other)"
TOO_THIN = "too thin to judge"


# -- the re-pricing ---------------------------------------------------------------------------------------------
def _price_frame(params: OrgParams) -> pd.DataFrame:
    rows = []
    for model, entries in params.model_prices.items():
        for i, e in enumerate(entries):
            until = entries[i + 1].since if i + 1 < len(entries) else date(9999, 12, 31)
            rows.append({"model": model, "since": e.since, "until": until, "usd_in": e.input, "usd_out": e.output})
    return pd.DataFrame(rows)


def _route_frame(routes: list[Route]) -> pd.DataFrame:
    return pd.DataFrame([{"route_id": i, "scope": r.scope, "who_kind": r.who_kind, "who": r.who or "",
                          "target": r.target, "share": r.share, "specificity": r.specificity}
                         for i, r in enumerate(routes)])


REPRICE_SQL = """
WITH pr AS (SELECT * FROM prices WHERE since <= $end AND until > $start),
mean_price AS (SELECT avg(usd_in * (1 - $s) + usd_out * $s) AS price FROM pr),
ide AS (
    SELECT f.day, f.user_id, f.model, f.feature, coalesce(f.interactions, 0) AS prompts,
           coalesce(f.generations, 0) AS generations, coalesce(f.acceptances, 0) AS acceptances,
           p.usd_in, p.usd_out, $s AS out_share,
           coalesce(p.usd_in * (1 - $s) + p.usd_out * $s, (SELECT price FROM mean_price)) AS weight_price
    FROM stg_user_day_model_feature f
    LEFT JOIN pr p ON p.model = f.model AND f.day >= p.since AND f.day < p.until
    WHERE f.day BETWEEN $start AND $end AND f.feature <> 'code_completion'
),
weights AS (SELECT day, user_id, sum(prompts * weight_price) AS weight FROM ide GROUP BY day, user_id),
user_days AS (
    SELECT c.day, c.user_id, c.ai_credits, u.cli_prompts, u.cli_prompt_tokens, u.cli_output_tokens, p.usd_in, p.usd_out,
           least((u.cli_prompt_tokens * p.usd_in + u.cli_output_tokens * p.usd_out) / 1e6 / $credit, c.ai_credits)
               AS cli_credits,
           coalesce(w.weight, 0) AS weight
    FROM int_cost_user_day c JOIN int_user_day_usage u USING (day, user_id)
    LEFT JOIN weights w USING (day, user_id)
    LEFT JOIN pr p ON p.model = $cli_model AND c.day >= p.since AND c.day < p.until
    WHERE c.day BETWEEN $start AND $end
)
SELECT i.day, i.user_id, i.model, i.feature, i.prompts, i.generations, i.acceptances, i.usd_in, i.usd_out, i.out_share,
       CASE WHEN d.weight > 0 THEN (d.ai_credits - coalesce(d.cli_credits, 0)) * i.prompts * i.weight_price / d.weight
            ELSE 0 END AS credits
FROM ide i JOIN user_days d USING (day, user_id)
UNION ALL
SELECT day, user_id, $cli_model, 'cli', cli_prompts, 0, 0, usd_in, usd_out,
       cli_output_tokens / nullif(cli_prompt_tokens + cli_output_tokens, 0), coalesce(cli_credits, 0)
FROM user_days WHERE cli_prompts > 0 OR cli_prompt_tokens > 0
UNION ALL
SELECT day, user_id, NULL, '(other)', 0, 0, 0, NULL, NULL, NULL, ai_credits - coalesce(cli_credits, 0)
FROM user_days WHERE weight = 0 AND ai_credits - coalesce(cli_credits, 0) > 0
"""

ROUTED_SQL = """
WITH scoped AS (
    SELECT m.team_slug, r.* FROM repriced r JOIN int_team_member_day m USING (day, user_id)
    UNION ALL
    SELECT NULL::VARCHAR, r.* FROM repriced r
),
-- the route governing a row depends only on its team (and so its segment) and its feature: pick it once per pair
best AS (
    SELECT c.team_slug, c.feature, ro.route_id, ro.target, ro.share
    FROM (SELECT DISTINCT team_slug, feature FROM scoped) c LEFT JOIN team_segment ts USING (team_slug)
    LEFT JOIN routes ro
      ON ((ro.scope = 'all' AND c.feature <> '(other)') OR (ro.scope = 'chat' AND c.feature LIKE 'chat%')
          OR ro.scope = c.feature)
     AND (ro.who_kind = 'org' OR (ro.who_kind = 'segment' AND ts.segment = ro.who)
          OR (ro.who_kind = 'team' AND c.team_slug = ro.who))
    QUALIFY row_number() OVER (PARTITION BY c.team_slug, c.feature ORDER BY ro.specificity DESC NULLS LAST) = 1
),
matched AS (
    SELECT s.*, b.route_id, b.target, b.share
    FROM scoped s JOIN best b ON s.team_slug IS NOT DISTINCT FROM b.team_slug AND s.feature IS NOT DISTINCT FROM b.feature
)
SELECT m.*, ts.segment,
       CASE WHEN m.route_id IS NOT NULL AND m.model <> m.target AND m.usd_in IS NOT NULL AND t.usd_in IS NOT NULL
                 AND t.usd_in * (1 - m.out_share) + t.usd_out * m.out_share
                     < m.usd_in * (1 - m.out_share) + m.usd_out * m.out_share
            THEN m.share ELSE 0 END AS moved,
       1 - (t.usd_in * (1 - m.out_share) + t.usd_out * m.out_share)
           / nullif(m.usd_in * (1 - m.out_share) + m.usd_out * m.out_share, 0) AS saving_rate
FROM matched m
LEFT JOIN team_segment ts USING (team_slug)
LEFT JOIN prices t ON t.model = m.target AND m.day >= t.since AND m.day < t.until
"""


def _route_rows(cur: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, routes: list[Route],
                teams: list[str]) -> None:
    """TEMP TABLE `routed` on `cur`: every prompt row of the month per team (join rule) and once more for the org
    (team_slug NULL), with route_id (NULL where no route covers it), target, moved (the share moved: 0 when the
    target is not cheaper), saving_rate, credits_saved and prompts_moved. The rows stay in DuckDB: an org of
    10,000 developers has millions of them."""
    cur.register("prices", _price_frame(params))
    cur.register("routes", _route_frame(routes))
    cur.register("team_segment", pd.DataFrame({"team_slug": teams, "segment": [params.segment_of(t) for t in teams]},
                                              columns=["team_slug", "segment"]).astype("object"))
    values = {"start": period.start, "end": period.end, "s": params.routing.output_token_share,
              "credit": params.prices.ai_credit, "cli_model": params.routing.cli_model}
    cur.execute(f"CREATE OR REPLACE TEMP TABLE repriced AS {REPRICE_SQL}", values)
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE routed AS
                    SELECT *, moved * credits * coalesce(saving_rate, 0) AS credits_saved, moved * prompts AS prompts_moved
                    FROM ({ROUTED_SQL})""")
    cur.execute("DROP TABLE repriced")


# -- figures from the routed rows ---------------------------------------------------------------------------------
SUMS = ["credits_before", "credits_saved", "prompts_moved", "credits_in_scope"]
# Sums where each prompt row of a person counts once, whatever teams they were on: of its team copies, the one
# with the largest saving (a route for one of their teams moves it).
ONCE_SQL = """
SELECT {group} count(DISTINCT user_id) AS members, coalesce(sum(credits), 0) AS credits_before,
       coalesce(sum(saved), 0) AS credits_saved, coalesce(sum(moved_prompts), 0) AS prompts_moved,
       coalesce(sum(in_scope), 0) AS credits_in_scope
FROM (SELECT {inner} day, user_id, model, feature, any_value(credits) AS credits, max(credits_saved) AS saved,
             arg_max(prompts_moved, credits_saved) AS moved_prompts,
             arg_max(credits * (moved > 0)::INT, credits_saved) AS in_scope
      FROM routed WHERE {where} GROUP BY ALL)
{group_by}
"""


def _once(cur: duckdb.DuckDBPyConnection, where: str, args: list, by: str | None = None) -> pd.DataFrame:
    group = f"{by}, " if by else ""
    return cur.execute(ONCE_SQL.format(group=group, inner=group, where=where,
                                       group_by=f"GROUP BY {by}" if by else ""), args).df()


@dataclass
class WhatIf:
    """The what-if of one period: its routes, the per-team and per-segment savings, the org's, and the acceptance risk."""

    period: Period
    route_table: pd.DataFrame  # one row per Route (its fields): a frame, so the memo can store it as data
    teams: pd.DataFrame
    segments: pd.DataFrame
    org: dict
    acceptance: pd.DataFrame
    org_shown: dict  # the org's sums as a page may show them: the whole org, or its teams of k or more developers

    @property
    def routes(self) -> list[Route]:
        return [Route(**{key: None if value is None or value != value else value for key, value in row.items()})
                for row in self.route_table.to_dict("records")]


@cache.memoised("whatif")
def evaluate(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, route_text: str) -> WhatIf:
    """The what-if of `route_text` for the period: re-price, then sum per team, per segment and for the org.

    `teams`: team_slug, segment, members, active_developers, below_k (1 .. k-1 members or active developers: the
    team's pages show no figure), credits_before, credits_in_scope, prompts_moved, credits_saved,
    credits_after, saved_share, money_saved, plus credits_saved_<i> per route i. `segments` the same per segment
    (each prompt once) with reveals_small_group (its figures, less its teams shown, would give a team under k).
    `org`: the same sums plus pool_credits and org_bill_change (money, after the pool); `org_shown` what a page
    may show of it (labelled). `acceptance`: see `acceptance_risk`. Memoised beside the warehouse: every team's
    page 07 reads it.
    """
    routes = parse_routes(route_text, params)
    sizes = usage.team_sizes(con, period)
    members = {team: size[0] for team, size in sizes.items()}
    unknown = sorted({r.who for r in routes if r.who_kind == "team"} - set(members))
    if unknown:
        raise UserError(f"--route: {', '.join(unknown)} is no segment id and no team with members in {period.label}; "
                        f"segments: {', '.join(sorted(set(params.segments) | set(SEGMENT_IDS)))}")
    k = params.privacy.k_anonymity
    small = sorted(usage.small_teams(sizes, k))  # teams whose pages show no figure: none shown here either
    cur = con.cursor()
    try:
        _route_rows(cur, period, params, routes, sorted(members))
        teams = cur.execute("""
            SELECT team_slug, sum(credits) AS credits_before, sum(credits_saved) AS credits_saved,
                   sum(prompts_moved) AS prompts_moved, sum(credits * (moved > 0)::INT) AS credits_in_scope
            FROM routed WHERE team_slug IS NOT NULL GROUP BY team_slug""").df()
        by_route = cur.execute("""SELECT team_slug, route_id, sum(credits_saved) AS saved FROM routed
                                  WHERE team_slug IS NOT NULL AND route_id IS NOT NULL GROUP BY ALL""").df()
        segments = _once(cur, "team_slug IS NOT NULL", [], by="segment")
        hidden = dict(cur.execute("""SELECT segment, count(DISTINCT user_id) FROM routed WHERE list_contains(?, team_slug)
                                     GROUP BY segment""", [small]).fetchall())
        org = _once(cur, "true", []).iloc[0].to_dict()
        shown = _once(cur, "team_slug IS NOT NULL AND NOT list_contains(?, team_slug)", [small]).iloc[0].to_dict()
        exposed = cur.execute("""SELECT count(DISTINCT user_id) FROM routed WHERE list_contains(?, team_slug)
                                 AND list_contains(?, segment)""", [small, [
            seg for seg, n in hidden.items() if privacy.small_group(n, k)]]).fetchone()[0]
        acceptance = acceptance_risk(cur, routes, params)
        cur.execute("DROP TABLE routed")
    finally:
        cur.close()
    teams = pd.DataFrame({"team_slug": sorted(members)}).merge(teams, on="team_slug", how="left").fillna(0.0)
    teams["segment"] = [params.segment_of(t) for t in teams["team_slug"]]
    teams["members"] = [members[t] for t in teams["team_slug"]]
    teams["active_developers"] = [sizes[t][1] for t in teams["team_slug"]]
    for i in range(len(routes)):
        mine = by_route[by_route["route_id"] == i].set_index("team_slug")["saved"]
        teams[f"credits_saved_{i}"] = teams["team_slug"].map(mine).fillna(0.0).astype(float)
    teams = _finish(teams, params)
    teams["below_k"] = teams["team_slug"].isin(small)
    # a segment less its teams shown gives its hidden teams' figures: blank it when those hold 1 .. k-1 people
    segments["reveals_small_group"] = [bool(privacy.small_group(hidden.get(seg, 0), k)) for seg in segments["segment"]]
    segments["below_k"] = [bool(privacy.small_group(n, k)) for n in segments["members"]]
    segments = _finish(segments.sort_values("segment", ignore_index=True), params)
    org = {key: float(org[key]) for key in SUMS}
    org.update(_org_bill(con, period, params, org["credits_saved"]))
    org["money_saved"] = org["credits_saved"] * params.prices.ai_credit
    # the org less the segments shown would give the hidden teams of blanked segments: then show its teams of k or
    # more developers together instead (as the org overview does)
    if privacy.small_group(exposed, k):
        org_shown = {key: float(shown[key]) for key in SUMS} | {"label": f"teams with {k} or more developers"}
    else:
        org_shown = {key: org[key] for key in SUMS} | {"label": "whole org"}
    org_shown["money_saved"] = org_shown["credits_saved"] * params.prices.ai_credit
    route_table = pd.DataFrame([dataclasses.asdict(r) for r in routes],
                               columns=[f.name for f in dataclasses.fields(Route)])
    return WhatIf(period, route_table, teams, segments, org, acceptance, org_shown)


def _finish(frame: pd.DataFrame, params: OrgParams) -> pd.DataFrame:
    frame["credits_after"] = frame["credits_before"] - frame["credits_saved"]
    frame["saved_share"] = frame["credits_saved"] / frame["credits_before"].where(frame["credits_before"] > 0)
    frame["money_saved"] = frame["credits_saved"] * params.prices.ai_credit
    return frame


def _org_bill(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, saved: float) -> dict:
    """What the org's AI-credit bill does before and after the routing, priced by `cost.credit_bill` (page 02's and
    the agents bill's rule). The credits billed are the users report's and the cloud-agent credits it does not count
    (`agents.credits_beyond_usage_report`, as on the agents bill): those use the included pool too, though no route
    moves them."""
    org = org_month_quantities(con, period)
    beyond = agents.credits_beyond_usage_report(con, period, params)
    billed = float(org["ai_credits"]) + beyond
    before = credit_bill(org, params, period, billed)
    after = credit_bill(org, params, period, max(0.0, billed - saved))
    return {"pool_credits": before["pool_credits"], "credits_billed": billed, "agent_credits_beyond_report": beyond,
            "bill_before": before["credit_cost"], "bill_after": after["credit_cost"],
            "org_bill_change": after["credit_cost"] - before["credit_cost"]}


# -- acceptance risk ------------------------------------------------------------------------------------------------
def ratio_interval(per_developer: pd.DataFrame, coverage: float) -> tuple[float, float, float, int]:
    """(ratio, low, high, developers) of sum(acceptances) / sum(generations) over developers, with a delta-method
    interval that treats each developer as one cluster (their outputs are not independent). NaN where undefined."""
    g = per_developer["generations"].to_numpy(dtype=float)
    a = per_developer["acceptances"].to_numpy(dtype=float)
    keep = g > 0
    g, a = g[keep], a[keep]
    n = len(g)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    ratio = a.sum() / g.sum()
    if n < 2:
        return ratio, np.nan, np.nan, n
    se = np.sqrt(n / (n - 1) * np.sum((a - ratio * g) ** 2)) / g.sum()
    z = NormalDist().inv_cdf(0.5 + coverage / 2)
    return ratio, max(0.0, ratio - z * se), min(1.0, ratio + z * se), n


ACCEPTANCE_SQL = """
WITH ide AS (SELECT * FROM routed WHERE route_id IS NOT NULL AND feature NOT IN ('cli', '(other)', 'agent_edit'))
SELECT route_id, team_slug, user_id, model = target AS on_target, moved > 0 AS moving,
       sum(acceptances) AS acceptances, sum(generations) AS generations
FROM ide WHERE team_slug IS NOT NULL GROUP BY ALL
UNION ALL
SELECT route_id, NULL, user_id, on_target, moving, sum(acceptances), sum(generations)
FROM (SELECT DISTINCT route_id, day, user_id, model, feature, acceptances, generations, model = target AS on_target,
             moved > 0 AS moving FROM ide)
GROUP BY ALL
"""


def acceptance_risk(cur: duckdb.DuckDBPyConnection, routes: list[Route], params: OrgParams) -> pd.DataFrame:
    """Per route and scope (each team it governs, then the org as team_slug None): the accepted-output ratio on the
    target model for the prompts the route governs, with its interval and developers, beside the ratio on the prompts
    that would move. Reads the TEMP TABLE `routed` of `_route_rows`.

    Columns: route_id, route, team_slug, target_ratio, target_low, target_high, target_developers, source_ratio,
    source_developers, verdict ('too thin to judge' under k target developers, 'no acceptance signal' for the CLI,
    else 'judged'). The org row counts each developer once.
    """
    k, coverage = params.privacy.k_anonymity, params.routing.interval
    per_user = cur.execute(ACCEPTANCE_SQL).df()
    per_user["scope"] = per_user["team_slug"].fillna("\0org")
    out = []
    for i, route in enumerate(routes):
        mine = per_user[per_user["route_id"] == i]
        scopes = sorted(set(mine["scope"]) - {"\0org"}) + ["\0org"]
        for scope in scopes:
            group = mine[mine["scope"] == scope]
            target = group[group["on_target"]].groupby("user_id")[["acceptances", "generations"]].sum()
            source = group[group["moving"]].groupby("user_id")[["acceptances", "generations"]].sum()
            t_ratio, low, high, t_devs = ratio_interval(target, coverage)
            s_ratio, _, _, s_devs = ratio_interval(source, coverage)
            verdict = "no acceptance signal" if route.scope == "cli" else TOO_THIN if t_devs < k else "judged"
            out.append({"route_id": i, "route": route.text, "team_slug": None if scope == "\0org" else scope,
                        "target_ratio": t_ratio, "target_low": low, "target_high": high, "target_developers": t_devs,
                        "source_ratio": s_ratio, "source_developers": s_devs, "verdict": verdict})
    return pd.DataFrame(out, columns=["route_id", "route", "team_slug", "target_ratio", "target_low", "target_high",
                                      "target_developers", "source_ratio", "source_developers", "verdict"])
