"""The demo org generator: deterministic bytes, the raw-zone formats, and an org that looks real."""
from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from copilot_finops.demo import org as demo_org
from copilot_finops.demo import generate_org
from copilot_finops.demo.injected import DISTRACTORS, PATTERNS
from copilot_finops.cli import main
from copilot_finops.errors import UserError


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _records(raw: Path, kind: str) -> list[dict]:
    out = []
    for path in sorted((raw / "metrics" / kind).rglob("*.ndjson")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line]
    return out


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    args = {"users": 30, "days": 21, "end": date(2026, 10, 31)}
    generate_org(tmp_path / "a", seed=3, **args)
    generate_org(tmp_path / "b", seed=3, **args)
    generate_org(tmp_path / "c", seed=4, **args)
    a, b, c = (_tree_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert len(a) > 50
    assert a != c


def test_raw_zone_layout_and_manifest(small_demo):
    raw = small_demo.raw
    for kind in ("users-1-day", "user-teams-1-day", "organization-1-day"):
        days = sorted(p.name for p in (raw / "metrics" / kind).iterdir())
        assert len(days) == 62 and days[-1] == "2026-10-31"
        assert (raw / "metrics" / kind / days[0] / "part-0.ndjson").exists()
    assert list((raw / "seats").glob("*.json")) and list((raw / "teams").glob("*.json"))
    assert (raw / "billing" / "ai-credit-usage" / "2026-10.json").exists()
    repos = sorted(p.name for p in (raw / "delivery" / demo_org.ORG_LOGIN).iterdir())
    assert repos == sorted(t[0] for t in demo_org.TEAMS)
    manifest = [json.loads(line) for line in (raw / "manifest.jsonl").read_text().splitlines()]
    files = {str(p.relative_to(raw)) for p in raw.rglob("*") if p.is_file()} - {"manifest.jsonl", "ground_truth.json", ".demo-args.json"}
    assert {m["path"] for m in manifest} == files
    for m in manifest[:40]:
        assert hashlib.sha256((raw / m["path"]).read_bytes()).hexdigest() == m["sha256"]


def test_user_records_carry_every_breakdown_and_cli_only_on_cli_days(small_demo):
    records = _records(small_demo.raw, "users-1-day")
    assert len(records) == small_demo.user_day_records
    for key in ("totals_by_ide", "totals_by_feature", "totals_by_language_feature", "totals_by_language_model",
                "totals_by_model_feature", "ai_credits_used", "ai_adoption_phase"):
        assert all(key in r for r in records), key
    with_cli = [r for r in records if "totals_by_cli" in r]
    assert with_cli and len(with_cli) < len(records)
    assert all(r["used_cli"] == ("totals_by_cli" in r) for r in records)
    # feature totals add up to the record's counters
    r = next(r for r in records if len(r["totals_by_feature"]) > 2)
    assert sum(f["code_generation_activity_count"] for f in r["totals_by_feature"]) == r["code_generation_activity_count"]
    assert all(f["code_acceptance_activity_count"] == 0 for r in records for f in r["totals_by_feature"]
               if f["feature"] == "agent_edit")
    # the coding -> cloud agent rename happens inside the window, as it did at GitHub
    assert any("used_copilot_coding_agent" in r for r in records) and any("used_copilot_cloud_agent" in r for r in records)


def test_org_looks_real(small_demo):
    records = _records(small_demo.raw, "users-1-day")
    per_day = Counter(r["day"] for r in records)
    weekday = [n for d, n in per_day.items() if date.fromisoformat(d).weekday() < 5]
    weekend = [n for d, n in per_day.items() if date.fromisoformat(d).weekday() >= 5]
    assert sum(weekday) / len(weekday) > 5 * (sum(weekend) / max(1, len(weekend)))
    labor_day = per_day.get("2026-09-07", 0)  # a holiday: quiet like a weekend
    assert labor_day < 0.3 * sum(weekday) / len(weekday)

    # role-dependent usage: SREs on the CLI, frontend on chat
    team_of = {}
    for r in _records(small_demo.raw, "user-teams-1-day"):
        team_of.setdefault(r["user_id"], r["slug"])
    seg = {slug: s for slug, _, s, _ in demo_org.TEAMS}
    cli_share, chat = defaultdict(list), defaultdict(list)
    for r in records:
        s = seg.get(team_of.get(r["user_id"]))
        if s:
            cli_share[s].append("totals_by_cli" in r)
            chat[s].append(r["user_initiated_interaction_count"])
    mean = lambda xs: sum(xs) / len(xs)
    assert mean(cli_share["platform_sre"]) > 2 * mean(cli_share["frontend_product"])
    assert mean(chat["frontend_product"]) > mean(chat["platform_sre"])

    # the small team is in the rosters but GitHub's user-teams report drops it (< 5 seats)
    slugs = {r["slug"] for r in _records(small_demo.raw, "user-teams-1-day")}
    assert demo_org.SMALL_TEAM not in slugs
    rosters = json.loads(sorted((small_demo.raw / "teams").glob("*.json"))[-1].read_text())
    assert any(t["slug"] == demo_org.SMALL_TEAM and 0 < len(t["members"]) < 5 for t in rosters)

    # joiners, leavers and idle seats
    seats = {}
    for path in sorted((small_demo.raw / "seats").glob("*.json")):
        seats[path.stem] = {s["assignee"]["login"]: s for page in json.loads(path.read_text()) for s in page["seats"]}
    first, last = seats[min(seats)], seats[max(seats)]
    assert set(last) - set(first), "someone joined"
    assert set(first) - set(last), "someone left"
    assert any(s["pending_cancellation_date"] for s in first.values())
    active_logins = {r["user_login"] for r in records if r["day"] >= "2026-10-01"}
    assert set(last) - active_logins, "some seats sit idle"


def test_ground_truth_shape(small_demo):
    truth = small_demo.ground_truth
    assert truth["seed"] == 7 and truth["pattern_strength"] == 1.0
    assert set(truth["delivery"]) == {t[0] for t in demo_org.TEAMS}
    assert set(truth["delivery"].values()) == {"scaling", "tighten", "inconclusive"}
    kinds = {t: s["kind"] for t, s in truth["delivery_scenarios"].items()}
    assert sorted(kinds.values()).count("effect") == 4 and sorted(kinds.values()).count("confounded") == 3
    for team, s in truth["delivery_scenarios"].items():
        assert (s["kind"] == "effect") == bool(s["effects"]) and (s["kind"] == "confounded") == bool(s["drifts"])
        assert s["expected"] == truth["delivery"][team]
    assert {p["pattern"] for p in truth["patterns"]} == set(PATTERNS)
    for p in truth["patterns"] + truth["distractors"]:
        assert set(p) == {"user_login", "week_start", "effect", "pattern" if "pattern" in p else "kind"}
        assert date.fromisoformat(p["week_start"]).weekday() == 0
    for p in truth["patterns"]:  # each week's size is drawn around the org's strength
        assert 0.85 <= p["effect"]["strength"] <= 1.15
    assert {d["kind"] for d in truth["distractors"]} == set(DISTRACTORS)
    weeks = {(p["user_login"], p["week_start"]) for p in truth["patterns"] + truth["distractors"]}
    assert len(weeks) == len(truth["patterns"]) + len(truth["distractors"])  # one thing per user-week
    assert truth["on_call"] and all(date.fromisoformat(s["start"]).weekday() == 5 for s in truth["on_call"])
    on_disk = json.loads((small_demo.raw / "ground_truth.json").read_text())
    assert on_disk == truth


def test_rejects_impossible_sizes_in_one_line(tmp_path, capsys):
    with pytest.raises(UserError, match="--users"):
        generate_org(tmp_path, users=3)
    for argv in (["--users", "5"], ["--days", "2"], ["--seed", "-1"]):
        assert main(["demo", "--raw", str(tmp_path / "raw"), "--warehouse", str(tmp_path / "w.duckdb"), *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: " + argv[0]) and len(err.strip().splitlines()) == 1, err
    (tmp_path / "a-file").write_text("")
    assert main(["generate", "--raw", str(tmp_path / "a-file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_billing_agrees_with_the_daily_credits(small_demo):
    daily = sum(json.loads(line).get("ai_credits_used", 0)
                for p in (small_demo.raw / "metrics" / "users-1-day").rglob("2026-10-*/*.ndjson")
                for line in p.read_text().splitlines())
    billed = sum(item["grossQuantity"] for response in json.loads((small_demo.raw / "billing/ai-credit-usage/2026-10.json").read_text())
                 for item in response["usageItems"])
    assert daily > 0 and billed == pytest.approx(daily, rel=1e-3)
