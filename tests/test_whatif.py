"""The model-routing what-if: routes read as written, per-team savings equal a re-pricing worked out by hand from the
raw files, thin acceptance evidence is called so, and the 80 % guardrail stage links to the page."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from copilot_finops import budget, warehouse, whatif, whatif_report
from copilot_finops.cli import main
from copilot_finops.errors import UserError

import test_attribution
from test_attribution import OCT, PARAMS, ROOT

con = test_attribution.con  # the demo warehouse, read-only, one connection per module

ROUTE = "chat:gpt-5-mini=50%,cli:gpt-5-mini=80%"


@pytest.fixture(scope="module")
def result(con):
    return whatif.evaluate(con, OCT, PARAMS, ROUTE)


def test_routes_read_as_written_and_bad_ones_say_how_to_fix_them():
    routes = whatif.parse_routes("chat:gpt-5-mini=50%, chat_panel_ask_mode@security_engineering:claude-haiku-4.5=0.3,"
                                 "cli@platform-sre:gpt-5-mini=80%", PARAMS)
    assert [(r.scope, r.who, r.who_kind, r.target, r.share) for r in routes] == [
        ("chat", None, "org", "gpt-5-mini", 0.5),
        ("chat_panel_ask_mode", "security_engineering", "segment", "claude-haiku-4.5", 0.3),
        ("cli", "platform-sre", "team", "gpt-5-mini", 0.8)]
    assert routes[1].specificity > routes[0].specificity  # a feature of a segment beats chat for everyone
    for text, words in [("chat:gpt-9=50%", "no price in params"), ("code_completion:gpt-5-mini=50%", "not chat, cli"),
                        ("chat:gpt-5-mini=150%", "at most 100%"), ("chat gpt-5-mini 50", "SCOPE[@SEGMENT_OR_TEAM]"),
                        ("chat:gpt-5-mini=50%,chat:claude-haiku-4.5=20%", "move the same prompts"), ("", "empty")]:
        with pytest.raises(UserError, match=words.replace("[", r"\[")):
            whatif.parse_routes(text, PARAMS)


def _hand_repricing(raw: Path, start: date, end: date) -> tuple[dict, dict]:
    """Per team: credits saved by the route, and developers who used gpt-5-mini for chat, from the raw files alone.

    Membership as GitHub prescribes: the day's user-teams report, and for a team it leaves out (under five seated
    users) the nearest team roster on or before the day, else the first.
    """
    prices = {m: e[-1] for m, e in PARAMS.model_prices.items()}
    s = PARAMS.routing.output_token_share
    blended = {m: p.input * (1 - s) + p.output * s for m, p in prices.items()}
    mean_price = sum(blended.values()) / len(blended)
    cli, mini = prices[PARAMS.routing.cli_model], prices["gpt-5-mini"]
    rosters = {}
    for path in sorted((raw / "teams").glob("*.json")):
        rosters[date.fromisoformat(path.stem)] = {t["slug"]: {m["id"] for m in t["members"]} for t in json.loads(path.read_text())}
    saved, mini_users = defaultdict(float), defaultdict(set)
    for folder in sorted((raw / "metrics/users-1-day").iterdir()):
        day = date.fromisoformat(folder.name)
        if not start <= day <= end:
            continue
        teams_of = defaultdict(set)
        reported = set()
        for line in (raw / "metrics/user-teams-1-day" / folder.name / "part-0.ndjson").read_text().splitlines():
            row = json.loads(line)
            teams_of[row["user_id"]].add(row["slug"])
            reported.add(row["slug"])
        snap = max((d for d in rosters if d <= day), default=min(rosters))
        for slug, ids in rosters[snap].items():
            if slug not in reported:
                for uid in ids:
                    teams_of[uid].add(slug)
        for part in sorted(folder.glob("part-*.ndjson")):
            for line in part.read_text().splitlines():
                rec = json.loads(line)
                credits = rec.get("ai_credits_used") or 0.0
                tokens = rec.get("totals_by_cli", {}).get("token_usage", {})
                t_in, t_out = tokens.get("prompt_tokens_sum", 0), tokens.get("output_tokens_sum", 0)
                cli_credits = min((t_in * cli.input + t_out * cli.output) / 1e6 / PARAMS.prices.ai_credit, credits)
                rows = [r for r in rec["totals_by_model_feature"] if r["feature"] != "code_completion"]
                weight = sum(r["user_initiated_interaction_count"] * blended.get(r["model"], mean_price) for r in rows)
                user_saved = 0.0
                if t_in + t_out and cli_credits:
                    ratio = (t_in * mini.input + t_out * mini.output) / (t_in * cli.input + t_out * cli.output)
                    user_saved += 0.8 * cli_credits * (1 - ratio)
                for r in rows:
                    share = r["user_initiated_interaction_count"] * blended.get(r["model"], mean_price) / weight if weight else 0
                    if r["feature"].startswith("chat") and r["model"] in blended and blended[r["model"]] > blended["gpt-5-mini"]:
                        user_saved += 0.5 * (credits - cli_credits) * share * (1 - blended["gpt-5-mini"] / blended[r["model"]])
                    if r["feature"].startswith("chat") and r["model"] == "gpt-5-mini" and r["code_generation_activity_count"]:
                        for team in teams_of[rec["user_id"]]:
                            mini_users[team].add(rec["user_id"])
                for team in teams_of[rec["user_id"]]:
                    saved[team] += user_saved
    return dict(saved), {t: len(u) for t, u in mini_users.items()}


def test_per_team_savings_equal_a_hand_repricing_of_the_raw_files(small_demo, result):
    by_hand, mini_developers = _hand_repricing(small_demo.raw, OCT.start, OCT.end)
    computed = result.teams.set_index("team_slug")["credits_saved"].to_dict()
    assert set(computed) == set(by_hand)
    for team, credits in by_hand.items():
        assert computed[team] == pytest.approx(credits, rel=1e-9), team
    assert all(credits > 0 for credits in computed.values())
    thin = {t for t in computed if mini_developers.get(t, 0) < PARAMS.privacy.k_anonymity}
    assert thin and set(whatif_report.thin_teams(result)) == thin
    # the what-if starts from the month's credits as page 02 counts them, team by team
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        page_02 = dict(con.execute("SELECT team_slug, ai_credits FROM mart_team_month_cost WHERE period = '2026-10'").fetchall())
    finally:
        con.close()
    assert result.teams.set_index("team_slug")["credits_before"].to_dict() == pytest.approx(page_02, rel=1e-9)


def test_a_team_route_moves_only_that_teams_prompts(con, result):
    one = whatif.evaluate(con, OCT, PARAMS, "cli@platform-sre:gpt-5-mini=80%").teams.set_index("team_slug")
    assert one.loc["platform-sre", "credits_saved"] == pytest.approx(
        result.teams.set_index("team_slug").loc["platform-sre", "credits_saved_1"], rel=1e-9)
    assert one.drop(index="platform-sre")["credits_saved"].sum() == 0
    with pytest.raises(UserError, match="no segment id and no team"):
        whatif.evaluate(con, OCT, PARAMS, "cli@no-such-team:gpt-5-mini=80%")


def test_whatif_command_prints_savings_and_thin_teams_and_suppresses_small_teams(small_demo, capsys):
    args = ["whatif", "--period", "2026-10", "--route", ROUTE, "--warehouse", str(small_demo.warehouse),
            "--params", str(ROOT / "params")]
    assert main(args + ["--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    small = [t for t in doc["teams"] if t["suppressed"]]
    assert small and all(t["credits_saved"] is None and t["credits_before"] is None for t in small)
    shown = [t for t in doc["teams"] if not t["suppressed"]]
    assert all(t["credits_saved"] > 0 and 0 < t["saved_share"] < 1 for t in shown)
    assert doc["org"]["credits_saved"] == pytest.approx(doc["org"]["money_saved"] / PARAMS.prices.ai_credit)
    judged = [a for t in shown for a in t["acceptance"] if a["verdict"] == "judged"]
    assert judged and all(a["target_interval"][0] <= a["target_ratio"] <= a["target_interval"][1] for a in judged)
    assert all(a["target_ratio"] is None for t in doc["teams"] for a in t["acceptance"] if a["verdict"] != "judged")
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "too thin to judge" in text and "credits saved" in text and ", ".join(doc["too_thin_to_judge"]) in text
    assert main(args[:-2] + ["--route", "chat:gpt-9=10%"]) == 2
    assert "no price in params" in capsys.readouterr().err


def test_the_80_percent_stage_links_its_action_to_the_teams_page_07(con):
    report = budget.evaluate_guardrails(con, OCT, PARAMS)
    row = report.rows[report.rows["scope"] == "team"].iloc[0].to_dict()
    text = budget.guardrail_markdown(row, report, PARAMS)
    action = PARAMS.guardrails.actions_for(0.8)[0]
    assert f"[{action}](07_model_routing.html)" in text
    assert "(07_model_routing.html)" not in text.split(f"[{action}]")[0]  # the other stages' actions do not link
