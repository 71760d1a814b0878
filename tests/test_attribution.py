"""Agent work and repositories on the demo org: the bill splits into agent + human + unattributed and adds up, the
parts are what the raw files say, and the repository view adds up to the team figures."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from copilot_finops import agents, cost, repos, warehouse
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
    parts = doc["bill"]["agent"] + doc["bill"]["human"] + doc["bill"]["unattributed"]
    assert parts == pytest.approx(doc["bill"]["bill"])
    assert main(["repos", *common, "--team", "devex", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["repositories"][-1]["repo"] == "total"
    assert doc["repositories"][-1]["credits"] == pytest.approx(doc["reconciliation"]["teams"]["devex"]["team_figure"])
    assert main(["repos", *common, "--team", "nope"]) == 2
    assert "no such team" in capsys.readouterr().err
