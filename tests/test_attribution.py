"""Agent work and repositories on the demo org: the bill splits into agent + human + unattributed and adds up, the
parts are what the raw files say, and the repository view adds up to the team figures."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

import duckdb
import pandas as pd

from copilot_finops import agents, cost, privacy, repos, warehouse, whatif
from copilot_finops.cli import main
from copilot_finops.params import load_params
from copilot_finops.period import parse_period

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params")
OCT = parse_period("2026-10")


@pytest.fixture(scope="module")
def con(small_demo):
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def priced(con):
    return agents.agent_costs(con, OCT, PARAMS)


def _raw_agent_facts(raw: Path) -> dict:
    """What the raw files say about October's agent work, read without the warehouse."""
    pulls = [p for f in raw.glob("delivery/*/*/pulls-agent.json") for p in json.loads(f.read_text())]
    credits = sum(i["grossQuantity"] for r in json.loads((raw / "billing/ai-credit-usage/2026-10-agent.json").read_text())
                  for i in r["usageItems"])
    items = [i for r in json.loads((raw / "billing/billing-usage/2026-10.json").read_text()) for i in r["usageItems"]]
    copilot = sum(i["netAmount"] for i in items if "copilot" in i["workflowPath"])
    return {"opened": sum(p["created_at"].startswith("2026-10") for p in pulls),
            "merged": sum((p["merged_at"] or "").startswith("2026-10") for p in pulls),
            "credits": credits, "actions": copilot, "other_actions": sum(i["netAmount"] for i in items) - copilot}


def test_the_bill_splits_into_agent_human_and_unattributed_and_adds_up(small_demo, con, priced):
    teams, bill = priced
    assert bill["agent"] > 0 and bill["human"] > 0 and bill["unattributed"] >= 0
    assert bill["agent"] + bill["human"] + bill["unattributed"] == pytest.approx(bill["bill"], rel=1e-12)
    assert bill["bill"] == pytest.approx(bill["seat_cost"] + bill["credit_cost"] + bill["premium_cost"]
                                         + bill["actions_cost"], rel=1e-12)
    # the parts are what the raw files say: agent tasks, merged agent PRs, agent credits, Copilot's Actions minutes
    raw = _raw_agent_facts(small_demo.raw)
    assert teams["agent_tasks"].sum() == pytest.approx(raw["opened"]) and raw["opened"] > 0
    assert teams["agent_prs_merged"].sum() == pytest.approx(raw["merged"]) and raw["merged"] > 0
    assert bill["agent_credits"] == pytest.approx(raw["credits"])
    assert bill["actions_cost"] == pytest.approx(raw["actions"]) and raw["other_actions"] > 0  # CI minutes left out
    # seats as the cost model prices them; credits beyond the pool, the agent's included (the users report leaves
    # them out in the demo org)
    org = cost.org_costs(con, OCT, PARAMS)
    assert bill["seat_cost"] == pytest.approx(org["seat_cost"], rel=1e-9)
    assert bill["credits"] == pytest.approx(org["ai_credits"] + raw["credits"], rel=1e-9)
    assert bill["credit_cost"] == pytest.approx(max(0.0, bill["credits"] - org["pool_credits"]) * PARAMS.prices.ai_credit)
    # human merged changes are page 02's merged changes (agent PRs are opened by the agent, not by a member)
    page_02 = dict(con.execute("SELECT team_slug, merged_prs FROM mart_team_month_cost WHERE period = '2026-10'").fetchall())
    shown = teams[teams["team_slug"] != ""].set_index("team_slug")
    assert shown["human_merged_changes"].to_dict() == pytest.approx({t: float(v) for t, v in page_02.items()})
    per_task = shown["agent_cost"] / shown["agent_tasks"].where(shown["agent_tasks"] > 0)
    assert shown["agent_cost_per_task"].dropna().to_dict() == pytest.approx(per_task.dropna().to_dict())


def test_when_the_users_report_counts_agent_credits_they_are_not_billed_twice(con, priced):
    counted = PARAMS.model_copy(update={"agents": PARAMS.agents.model_copy(update={"credits_in_usage_report": True})})
    teams, bill = agents.agent_costs(con, OCT, counted)
    _, apart = priced
    assert bill["credits"] == pytest.approx(apart["credits"] - apart["agent_credits"])
    assert bill["agent_credits_outside_usage_report"] == 0
    assert bill["agent"] + bill["human"] + bill["unattributed"] == pytest.approx(bill["bill"], rel=1e-12)


def test_repositories_add_up_to_the_team_and_org_figures(con):
    frame = repos.repository_credits(con, OCT, PARAMS)
    check = repos.reconcile(frame, con, OCT)
    assert check["teams"] and check["org"]["org_figure"] > 0
    for team, figures in check["teams"].items():
        assert figures["repositories"] == pytest.approx(figures["team_figure"], rel=1e-9), team
    assert check["org"]["repositories"] == pytest.approx(check["org"]["org_figure"], rel=1e-9)
    k = PARAMS.privacy.k_anonymity
    view = repos.repository_view(frame, None, k, top=3)
    named = view[~view["repo"].isin([repos.OTHER, repos.NO_PR, "total"])]
    assert len(named) == 3 and (named["developers"] >= k).all()
    assert list(named["credits_per_merged_change"]) == sorted(named["credits_per_merged_change"], reverse=True)
    small = frame[frame["team_slug"].isna() & (frame["developers"] < k) & (frame["repo"] != repos.NO_PR)]
    assert len(small) and not set(small["repo"]) & set(view["repo"])  # under k developers: folded, never named
    assert view.iloc[-1]["credits"] == pytest.approx(check["org"]["org_figure"], rel=1e-9)


def test_agents_and_repos_commands_print_json_and_suppress_small_teams(small_demo, capsys):
    common = ["--period", "2026-10", "--warehouse", str(small_demo.warehouse), "--params", str(ROOT / "params")]
    assert main(["agents", *common, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    small = [t for t in doc["teams"] if t["suppressed"]]
    assert small and all(t["agent_cost"] is None and t["human_cost"] is None for t in small)
    assert doc["folded_teams"]["teams"] == len(small) and doc["folded_teams"]["human_cost"] > 0
    parts = doc["bill"]["agent"] + doc["bill"]["human"] + doc["bill"]["unattributed"]
    assert parts == pytest.approx(doc["bill"]["bill"])
    assert main(["repos", *common, "--team", "devex", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["repositories"][-1]["repo"] == "total"
    assert doc["repositories"][-1]["credits"] == pytest.approx(doc["reconciliation"]["teams"]["devex"]["team_figure"])
    assert main(["repos", *common, "--team", "nope"]) == 2
    assert "no such team" in capsys.readouterr().err


def _people(con, teams) -> int:
    return con.execute("SELECT count(DISTINCT user_id) FROM int_team_member_day WHERE day BETWEEN ? AND ? "
                       "AND list_contains(?, team_slug)", [OCT.start, OCT.end, list(teams)]).fetchone()[0]


def test_the_bill_less_the_teams_shown_gives_no_team_under_k(con, priced):
    """What the bill's human and agent totals less the teams shown leave is the folded row: k or more people."""
    teams, bill = priced
    k = PARAMS.privacy.k_anonymity
    named = teams[teams["team_slug"] != agents.NO_TEAM]
    folded = named[named["folded"]]
    small = set(named.loc[named["below_k"], "team_slug"])
    assert small and small <= set(folded["team_slug"])
    if set(folded["team_slug"]) != small:  # a team shown joins only when the small ones hold 1 .. k-1 people
        assert privacy.small_group(_people(con, small), k)
    assert not privacy.small_group(_people(con, folded["team_slug"]), k)
    fold = agents.folded_row(teams, k)
    shown = named[~named["folded"]]
    for part, column in (("human", "human_cost"), ("agent", "agent_cost")):
        assert bill[part] - shown[column].sum() == pytest.approx(fold[column], rel=1e-9)
    table = agents.team_table(teams, PARAMS)
    assert table.iloc[-1]["team"] == agents.FOLDED.format(n=len(folded), k=k)
    hidden = table[table["team"].isin(folded["team_slug"])]
    assert len(hidden) == len(folded) and not hidden.drop(columns="team").apply(
        lambda col: col.str.contains(r"\d", regex=True) & ~col.str.startswith("suppressed")).any().any()


def test_a_small_team_whose_people_are_under_k_takes_the_smallest_team_shown_into_the_fold():
    con = duckdb.connect()
    members = [("small", 1), ("small", 2), ("mid", 3), ("mid", 4), ("mid", 5), ("mid", 6), ("mid", 7),
               ("big", 8), ("big", 9), ("big", 10), ("big", 11), ("big", 12), ("big", 13)]
    con.execute("CREATE TABLE int_team_member_day (day DATE, team_slug VARCHAR, user_id INTEGER)")
    con.executemany("INSERT INTO int_team_member_day VALUES (?, ?, ?)", [(date(2026, 10, 5), t, u) for t, u in members])
    out = pd.DataFrame({"below_k": [False, False, True, False], "members": [6, 5, 2, 0]},
                       index=pd.Index(["big", "mid", "small", agents.NO_TEAM], name="team_slug"))
    assert agents._folded(con, OCT, out, 5) == [False, True, True, False]  # 2 people alone; with mid, 7
    assert agents._folded(con, OCT, out, 2) == [False, False, True, False]  # 2 people make k = 2
    con.close()


def test_the_what_if_pool_and_the_agents_bill_count_the_same_credits(con, priced):
    """One definition: the what-if's bill (page 07), the agents bill and page 02 price credits with the same pool,
    and the what-if counts the cloud-agent credits the users report leaves out, as the agents bill does."""
    _, bill = priced
    result = whatif.evaluate(con, OCT, PARAMS, "chat:gpt-5-mini=50%")
    assert bill["agent_credits_outside_usage_report"] > 0
    assert result.org["agent_credits_beyond_report"] == pytest.approx(bill["agent_credits_outside_usage_report"])
    assert result.org["credits_billed"] == pytest.approx(bill["credits"], rel=1e-9)
    assert result.org["bill_before"] == pytest.approx(bill["credit_cost"], rel=1e-9)
    assert result.org["pool_credits"] == pytest.approx(cost.org_costs(con, OCT, PARAMS)["pool_credits"], rel=1e-9)
    # a promotional pool over October: all three read it
    promo = PARAMS.prices.promotional_pool.model_copy(update={"start": date(2026, 10, 1), "end": date(2026, 11, 1)})
    params = PARAMS.model_copy(update={"prices": PARAMS.prices.model_copy(update={"promotional_pool": promo})})
    org = cost.org_costs(con, OCT, params)
    routed = whatif.evaluate(con, OCT, params, "chat:gpt-5-mini=50%").org
    _, promo_bill = agents.agent_costs(con, OCT, params)
    assert org["pool_credits"] > result.org["pool_credits"]
    assert routed["pool_credits"] == pytest.approx(org["pool_credits"], rel=1e-9)
    assert promo_bill["credit_cost"] == pytest.approx(max(0.0, promo_bill["credits"] - org["pool_credits"])
                                                      * PARAMS.prices.ai_credit)
    assert routed["bill_before"] == pytest.approx(promo_bill["credit_cost"], rel=1e-9)
