"""The demo org's agent work and what it is billed: coding-agent pull requests, their cloud-agent AI credits, the
Actions minutes of agent sessions and Copilot code review, and GitHub's repository report (repos-1-day).

Kept apart from `generate` (one call after the delivery data is simulated) so the telemetry and delivery
simulations stay as they are. Agent pull requests are opened by the agent's bot account and assigned to whoever
asked for the work, as GitHub's coding agent does; they go to `delivery/<repo>/pulls-agent.json` beside the
human ones. Credits are billed to the requester under a cloud-agent SKU in `billing/ai-credit-usage/<month>-agent.json`.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from .delivery import DeliverySimulation, _iso, _ts
from .org import ENTERPRISE_ID, ORG_ID, ORG_LOGIN, PROFILES, Person

AGENT = {"login": "copilot-swe-agent[bot]", "id": 198982749, "type": "Bot"}  # an app's bot account
AGENT_SKU = "copilot_cloud_agent"  # the demo's own string; the product matches params' agents.cloud_agent_billing
AGENT_MODEL = "claude-sonnet-4.6"
CREDITS_SINCE = date(2026, 6, 1)
REPOS_REPORT_SINCE = date(2026, 7, 17)
ACTIONS_PRICE = 0.008  # USD per Linux minute
WORKFLOWS = {"agent": "dynamic/copilot-swe-agent/copilot", "review": "dynamic/agents/copilot-pull-request-reviewer",
             "ci": ".github/workflows/ci.yml"}
TASKS = ["Fix flaky test in {area}", "Add missing input validation to {area}", "Write unit tests for {area}",
         "Refactor {area} to remove duplicated setup", "Upgrade {area} client and fix the breaking changes",
         "Document the {area} configuration options", "Add structured logging to {area}"]
AREAS = ["retry policy", "rate limiter", "config loader", "health checks", "metrics exporter", "session cache",
         "feature flags", "audit log", "CSV export", "webhook handler"]


def write(writer, seed: int, people: list[Person], delivery: DeliverySimulation, start: date, end: date) -> dict:
    """Simulate agent tasks and write their raw files; returns counts for the ground truth."""
    rng = np.random.default_rng([seed, 17])
    tasks = _agent_pulls(rng, people, delivery, start, end)
    by_repo: dict[str, list[dict]] = defaultdict(list)
    for t in tasks:
        by_repo[t["repo"]].append(t["served"])
    for repo in sorted(by_repo):
        writer.json("pulls", f"delivery/{repo}/pulls-agent.json", by_repo[repo], len(by_repo[repo]))
    _write_agent_credits(writer, tasks)
    reviewed = _write_actions(writer, rng, delivery, tasks, start, end)
    _write_repos_report(writer, delivery, tasks, reviewed, start, end)
    return {"agent_pulls": len(tasks), "agent_pulls_merged": sum(1 for t in tasks if t["merged"])}


def _agent_pulls(rng, people: list[Person], delivery: DeliverySimulation, start: date, end: date) -> list[dict]:
    numbers = {repo: max([pr.number for pr in pulls] + [i["number"] for i in delivery.incidents.get(repo, [])])
               for repo, pulls in delivery.pulls.items()}
    tasks = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        days = delivery._workdays(monday)
        for p in people:
            if p.idle or not days:
                continue
            for _ in range(int(rng.poisson(0.25 * PROFILES[p.segment].agent))):
                day = days[int(rng.integers(len(days)))]
                if not p.employed(day):
                    continue
                repo = delivery.repo_of(p.team)
                numbers[repo] = numbers.get(repo, 0) + 1
                tasks.append(_task(rng, p, repo, numbers[repo], day, end))
        monday += timedelta(days=7)
    return tasks


def _task(rng, p: Person, repo: str, number: int, day: date, end: date) -> dict:
    title = TASKS[int(rng.integers(len(TASKS)))].format(area=AREAS[int(rng.integers(len(AREAS)))])
    created = _ts(day, float(rng.uniform(9, 17)))
    u = rng.random()
    merged = closed = None
    if u < 0.55:
        merged = closed = created + timedelta(hours=float(rng.lognormal(np.log(20.0), 0.7)))
    elif u < 0.8:
        closed = created + timedelta(hours=float(rng.uniform(2, 48)))
    if closed and closed.date() > end:
        merged = closed = None  # still open when the window ends
    branch = "copilot/" + "-".join(title.lower().split()[:5])
    requester = {"login": p.login, "id": p.user_id, "type": "User"}
    api = f"https://api.github.com/repos/{repo}"
    served = {"id": 30_000_000 + number * 17 + len(repo), "number": number, "state": "closed" if closed else "open",
              "title": title, "user": AGENT, "body": f"Requested by @{p.login}.", "created_at": _iso(created),
              "updated_at": _iso(closed or created), "closed_at": _iso(closed), "merged_at": _iso(merged),
              "merge_commit_sha": f"{number:040x}" if merged else None, "draft": False,
              "head": {"ref": branch, "sha": f"{number + 7:040x}"}, "base": {"ref": "main"},
              "assignees": [requester], "requested_reviewers": [requester],
              "html_url": f"https://github.com/{repo}/pull/{number}", "url": f"{api}/pulls/{number}", "labels": []}
    return {"repo": repo, "number": number, "requester": p, "created": created, "merged": merged, "served": served,
            "credits": round(float(rng.lognormal(np.log(320.0), 0.5)), 2),
            "minutes": round(float(rng.uniform(6, 30)), 2)}


def _write_agent_credits(writer, tasks: list[dict]) -> None:
    """The requesters' cloud-agent credits per month, in the AI-credit usage endpoint's shape."""
    per: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for t in tasks:
        if t["created"].date() >= CREDITS_SINCE:
            per[t["created"].strftime("%Y-%m")][t["requester"].login] += t["credits"]
    for month in sorted(per):
        responses = []
        for login, qty in sorted(per[month].items()):
            qty = round(qty, 2)
            responses.append({"timePeriod": {"year": int(month[:4]), "month": int(month[5:])}, "organization": ORG_LOGIN,
                              "user": login, "usageItems": [{
                                  "product": "copilot cloud agent", "sku": AGENT_SKU, "model": AGENT_MODEL,
                                  "unitType": "ai-credits", "pricePerUnit": 0.01, "grossQuantity": qty,
                                  "grossAmount": round(qty * 0.01, 4), "discountQuantity": 0, "discountAmount": 0.0,
                                  "netQuantity": qty, "netAmount": round(qty * 0.01, 4)}]})
        writer.json("ai-credit-usage", f"billing/ai-credit-usage/{month}-agent.json", responses, len(responses))


def _write_actions(writer, rng, delivery: DeliverySimulation, tasks: list[dict], start: date, end: date) -> dict:
    """Actions minutes per day, repository and workflow (agent sessions, Copilot code review, and the repos' own CI),
    in the billing usage endpoint's shape; returns the pull requests Copilot reviewed, per (day, repo)."""
    minutes: dict[tuple[date, str, str], float] = defaultdict(float)
    reviewed: dict[tuple[date, str], int] = defaultdict(int)
    for t in tasks:
        minutes[(t["created"].date(), t["repo"], "agent")] += t["minutes"]
    opened = [(pr.created, pr.repo) for pulls in delivery.pulls.values() for pr in pulls]
    opened += [(t["created"], t["repo"]) for t in tasks]
    for created, repo in sorted(opened):
        day = created.date()
        if not start <= day <= end:
            continue
        minutes[(day, repo, "ci")] += float(rng.uniform(4, 20))
        if rng.random() < 0.45:
            minutes[(day, repo, "review")] += float(rng.uniform(1.5, 5))
            reviewed[(day, repo)] += 1
    months: dict[str, list[dict]] = defaultdict(list)
    for (day, repo, what), qty in sorted(minutes.items()):
        qty = round(qty, 2)
        amount = round(qty * ACTIONS_PRICE, 4)
        months[day.strftime("%Y-%m")].append({
            "date": day.isoformat(), "product": "actions", "sku": "actions_linux", "quantity": qty, "unitType": "minutes",
            "pricePerUnit": ACTIONS_PRICE, "grossAmount": amount, "discountAmount": 0.0, "netAmount": amount,
            "organizationName": ORG_LOGIN, "repositoryName": repo, "workflowPath": WORKFLOWS[what]})
    for month in sorted(months):
        writer.json("billing-usage", f"billing/billing-usage/{month}.json", [{"usageItems": months[month]}],
                    len(months[month]))
    return reviewed


def _write_repos_report(writer, delivery: DeliverySimulation, tasks: list[dict], reviewed: dict, start: date,
                        end: date) -> None:
    """repos-1-day: per day (from its general availability) and repository with activity, the pull-request counts."""
    counts: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pulls in delivery.pulls.values():
        for pr in pulls:
            counts[(pr.created.date(), pr.repo)]["total_created"] += 1
            if pr.merged:
                counts[(pr.merged.date(), pr.repo)]["total_merged"] += 1
    for t in tasks:
        counts[(t["created"].date(), t["repo"])]["total_created"] += 1
        counts[(t["created"].date(), t["repo"])]["total_created_by_copilot"] += 1
        if t["merged"]:
            counts[(t["merged"].date(), t["repo"])]["total_merged"] += 1
            counts[(t["merged"].date(), t["repo"])]["total_merged_created_by_copilot"] += 1
    for key, n in reviewed.items():
        counts[key]["total_reviewed_by_copilot"] += n
        counts[key]["total_copilot_suggestions"] += 2 * n
        counts[key]["total_copilot_applied_suggestions"] += n // 2
    repo_ids = {repo: 880_000 + i for i, repo in enumerate(sorted(delivery.pulls))}
    day = max(start, REPOS_REPORT_SINCE)
    while day <= end:
        records = []
        for repo in sorted(repo_ids):
            c = counts.get((day, repo))
            if not c:
                continue
            owner, name = repo.split("/")
            records.append({"day": day.isoformat(), "organization_id": ORG_ID, "enterprise_id": ENTERPRISE_ID,
                            "repository": {"id": repo_ids[repo], "name": name, "full_name": repo, "owner": {"login": owner}},
                            "pull_requests": {k: int(c.get(k, 0)) for k in (
                                "total_created", "total_merged", "total_created_by_copilot",
                                "total_merged_created_by_copilot", "total_reviewed_by_copilot",
                                "total_copilot_suggestions", "total_copilot_applied_suggestions")}})
        if records:
            writer.ndjson("repos-1-day", f"metrics/repos-1-day/{day.isoformat()}/part-0.ndjson", records)
        day += timedelta(days=1)
