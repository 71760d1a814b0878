"""Delivery side of the demo org: pull requests, reviews, deployments with statuses, incidents.

Each team has one repo. Teams carry an injected relationship between their Copilot usage and
their delivery quality ("scaling": usage up and change failures down; "tighten": usage up and
failures up; "inconclusive": no relationship), which `generate` records as ground truth.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from .org import ORG_LOGIN, Person

VERBS = ["Fix", "Add", "Refactor", "Remove", "Speed up", "Document", "Harden", "Simplify", "Migrate", "Instrument",
         "Validate", "Cache", "Split", "Rename", "Retry"]
AREAS = ["ledger", "checkout", "cart", "invoice", "session", "search", "catalog", "alerting", "pager", "ingest",
         "build cache", "release", "feature flag", "audit log", "token", "webhook", "rate limiter", "scheduler",
         "profile", "inventory", "pricing", "metrics", "tracing", "deploy", "secrets", "policy", "sandbox",
         "notification", "export", "billing"]
THINGS = ["handler", "worker", "client", "parser", "migration", "dashboard", "endpoint", "query", "config", "test suite",
          "cron job", "schema", "serializer", "retry loop", "validator", "middleware", "runbook", "pipeline",
          "component", "hook", "store", "adapter", "controller", "exporter", "queue consumer", "script", "form",
          "modal", "lint rule", "template"]
DETAILS = ["for EU region", "on timeout", "under load", "for empty input", "behind flag", "in staging", "for v2 API",
           "on retry", "for large orgs", "after upgrade", "on cold start", "for mobile", "in CI", "for admins",
           "on shutdown", "with pagination", "for dark mode", "with tracing", "on failover", "for new tenants"]
DUPLICATE_TOPICS = [
    "Add exponential backoff wrapper for outbound HTTP client calls",
    "Introduce shared structured logging helper with request ids",
    "Write GitHub Actions workflow to cache node modules between runs",
    "Create reusable feature flag evaluation module with local overrides",
    "Implement generic CSV export endpoint with streaming response",
    "Add OpenTelemetry tracing middleware for incoming requests",
    "Build retry queue consumer for failed webhook deliveries",
    "Create terraform module for standard service alerts",
]


def _ts(day: date, hours: float) -> datetime:
    return datetime(day.year, day.month, day.day) + timedelta(hours=hours)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PullRequest:
    repo: str
    number: int
    author: Person
    title: str
    branch: str
    created: datetime
    merged: datetime | None
    closed: datetime | None
    sha: str
    merge_sha: str | None
    reviews: list[tuple[Person, datetime, str]] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)


class DeliverySimulation:
    """Simulates the org's delivery data; `write` puts it into the raw zone as GitHub serves it."""

    def __init__(self, seed: int, people: list[Person], holidays: set[date], relationship: dict[str, str],
                 pattern_of: dict, partner: dict, start: date, end: date):
        self.rng = np.random.default_rng([seed, 4])
        self.people = people
        self.holidays = holidays
        self.relationship = relationship
        self.start, self.end = start, end
        self.span = max(1, (end - start).days)
        self.pulls: dict[str, list[PullRequest]] = defaultdict(list)
        self.deployments: dict[str, list[dict]] = defaultdict(list)
        self.statuses: dict[str, list[dict]] = defaultdict(list)
        self.incidents: dict[str, list[dict]] = defaultdict(list)
        self._next_id = 70_000_000
        self._simulate_pulls(pattern_of, partner)
        self._simulate_deployments()

    # -- helpers -----------------------------------------------------------------------------
    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _sha(self) -> str:
        return "".join(f"{int(x):02x}" for x in self.rng.integers(0, 256, size=20))

    def _t(self, day: date) -> float:
        return (day - self.start).days / self.span

    def _workdays(self, monday: date) -> list[date]:
        return [d for d in (monday + timedelta(days=i) for i in range(5))
                if d not in self.holidays and self.start <= d <= self.end]

    def repo_of(self, team: str) -> str:
        return f"{ORG_LOGIN}/{team}"

    def _title(self, team: str) -> str:
        r = self.rng
        prefix = "".join(w[0] for w in team.split("-")).upper()
        return (f"{VERBS[int(r.integers(len(VERBS)))]} {AREAS[int(r.integers(len(AREAS)))]} "
                f"{THINGS[int(r.integers(len(THINGS)))]} {DETAILS[int(r.integers(len(DETAILS)))]} "
                f"({prefix}-{int(r.integers(100, 9999))})")

    def _cycle_hours(self, team: str, day: date) -> float:
        t = self._t(day)
        median = {"scaling": 30 - 14 * t, "tighten": 20 + 14 * t}.get(self.relationship[team], 24.0)
        return float(self.rng.lognormal(np.log(median), 0.6))

    def failure_probability(self, team: str, day: date) -> float:
        t = self._t(day)
        return {"scaling": 0.32 - 0.28 * t, "tighten": 0.04 + 0.30 * t}.get(self.relationship[team], 0.14)

    # -- simulation --------------------------------------------------------------------------
    def _simulate_pulls(self, pattern_of: dict, partner: dict) -> None:
        r = self.rng
        teams = defaultdict(list)
        for p in self.people:
            teams[p.team].append(p)
        monday = self.start - timedelta(days=self.start.weekday())
        duplicate_titles: dict[tuple[int, int, date], list[str]] = {}
        numbers: dict[str, int] = defaultdict(int)
        while monday <= self.end:
            days = self._workdays(monday)
            for p in self.people:
                if not days or p.idle or not any(p.employed(d) for d in days):
                    continue
                pattern = pattern_of.get((p.index, monday))
                n = int(r.poisson(p.pr_rate * len(days) / 5))
                titles = [self._title(p.team) for _ in range(n)]
                merge_p = 0.9
                if pattern == "unmerged_output":
                    titles = [self._title(p.team) for _ in range(3 + int(r.integers(0, 2)))]
                    merge_p = 0.0
                elif pattern == "retry_no_accept":
                    titles, merge_p = titles[:1], 0.0
                elif pattern == "duplicate_work":
                    q = partner[(p.index, monday)]
                    key = (min(p.index, q), max(p.index, q), monday)
                    if key not in duplicate_titles:
                        picks = r.choice(len(DUPLICATE_TOPICS), size=2, replace=False)
                        duplicate_titles[key] = [DUPLICATE_TOPICS[int(i)] for i in picks]
                    titles = titles[:1] + duplicate_titles[key]
                repo = self.repo_of(p.team)
                for title in titles:
                    day = days[int(r.integers(len(days)))]
                    if not p.employed(day):
                        continue
                    created = _ts(day, float(r.uniform(9, 17)))
                    numbers[repo] += 1
                    slug = "-".join(title.lower().replace("(", "").replace(")", "").split()[:6])
                    u = r.random()
                    merged = closed = None
                    if u < merge_p:
                        merged = closed = created + timedelta(hours=self._cycle_hours(p.team, day))
                    elif u < merge_p + (1 - merge_p) * 0.6:
                        closed = created + timedelta(hours=float(r.uniform(4, 72)))
                    if merged and merged.date() > self.end + timedelta(days=1):
                        merged = closed = None  # still open when the window ends
                    pr = PullRequest(repo, numbers[repo], p, title, f"{p.login}/{slug}", created, merged, closed,
                                     self._sha(), self._sha() if merged else None)
                    reviewers = [q for q in teams[p.team] if q is not p and not q.idle and q.employed(day)]
                    if reviewers:
                        first = created + timedelta(hours=float(r.lognormal(np.log(4.0), 0.8)))
                        for k in range(1 + int(r.integers(0, 2))):
                            rv = reviewers[int(r.integers(len(reviewers)))]
                            at = first + timedelta(hours=3 * k)
                            if (merged and at > merged) or at.date() > self.end:
                                break
                            pr.reviews.append((rv, at, "APPROVED" if k or r.random() < 0.7 else "COMMENTED"))
                    ext = {"platform_sre": "go", "backend_services": "java", "frontend_product": "tsx",
                           "security_engineering": "py", "developer_productivity": "ts"}[p.segment]
                    stem = slug.split("-")[1] if "-" in slug else "core"
                    pr.files = [{"filename": f"src/{stem}/{slug[:20]}.{ext}", "status": "modified",
                                 "additions": int(r.integers(5, 200)), "deletions": int(r.integers(0, 60))}]
                    if r.random() < 0.45:
                        pr.files.append({"filename": f"tests/{stem}/test_{slug[:16]}.{ext}", "status": "added",
                                         "additions": int(r.integers(10, 120)), "deletions": 0})
                    if r.random() < 0.15:
                        pr.files.append({"filename": f"docs/{stem}.md", "status": "modified",
                                         "additions": int(r.integers(2, 40)), "deletions": int(r.integers(0, 10))})
                    self.pulls[repo].append(pr)
            monday += timedelta(days=7)

    def _simulate_deployments(self) -> None:
        """Each workday a repo with fresh merges deploys its head; some deployments cause incidents."""
        r = self.rng
        for repo, pulls in sorted(self.pulls.items()):
            team = repo.split("/", 1)[1]
            by_day: dict[date, list[PullRequest]] = defaultdict(list)
            for pr in pulls:
                if pr.merged:
                    by_day[pr.merged.date()].append(pr)
            numbers = len(pulls)
            for day in sorted(by_day):
                if day > self.end:
                    continue
                batch = sorted(by_day[day], key=lambda pr: pr.merged)
                head = batch[-1]
                deployed = max(_ts(day, 17.5), head.merged + timedelta(minutes=20))
                dep_id = self._id()
                url = f"https://api.github.com/repos/{repo}/deployments/{dep_id}"
                self.deployments[repo].append({
                    "id": dep_id, "node_id": f"DE_{dep_id:x}", "sha": head.merge_sha, "ref": "main", "task": "deploy",
                    "environment": "production", "description": f"Deploy {head.merge_sha[:7]}",
                    "creator": {"login": "deploy-bot", "id": 41898282, "type": "Bot"},
                    "created_at": _iso(deployed), "updated_at": _iso(deployed + timedelta(minutes=6)),
                    "url": url, "statuses_url": url + "/statuses", "repository_url": f"https://api.github.com/repos/{repo}"})
                failed_deploy = r.random() < 0.03
                for state, minutes in (("in_progress", 1), ("failure" if failed_deploy else "success", 6)):
                    sid = self._id()
                    self.statuses[repo].append({"id": sid, "state": state, "environment": "production",
                                                "created_at": _iso(deployed + timedelta(minutes=minutes)),
                                                "deployment_url": url, "description": f"Deployment {state}"})
                if failed_deploy or r.random() >= self.failure_probability(team, day):
                    continue
                opened = deployed + timedelta(hours=float(r.uniform(0.3, 3.0)))
                hours = float(r.lognormal(np.log(3.0 if self.relationship[team] != "tighten" else 3.0 + 4 * self._t(day)), 0.7))
                closed = opened + timedelta(hours=hours)
                with_root_cause = r.random() < 0.75
                body = f"Customer-facing errors after deploy.\n\nroot cause: {head.merge_sha}\n" if with_root_cause \
                    else "Error rate alert fired after the evening deploy; rolled back with a revert."
                numbers += 1
                self.incidents[repo].append({
                    "id": self._id(), "number": numbers, "title": f"Incident: elevated errors in {team}",
                    "state": "closed" if closed.date() <= self.end else "open",
                    "labels": [{"name": "incident"}], "user": {"login": "pager-bot", "id": 41898299, "type": "Bot"},
                    "body": body, "created_at": _iso(opened),
                    "closed_at": _iso(closed) if closed.date() <= self.end else None,
                    "html_url": f"https://github.com/{repo}/issues/{numbers}"})
                if not with_root_cause:
                    numbers += 1
                    author = head.author
                    merged = opened + timedelta(hours=1)
                    self.pulls[repo].append(PullRequest(repo, numbers, author, f'Revert "{head.title}"',
                                                        f"revert-{head.number}", opened + timedelta(minutes=20), merged,
                                                        merged, self._sha(), self._sha()))

    # -- outputs -----------------------------------------------------------------------------
    def org_day_pull_requests(self, day: date) -> dict:
        if not hasattr(self, "_pr_days"):
            index: dict[date, list] = defaultdict(lambda: [0, 0, 0, []])
            for pulls in self.pulls.values():
                for pr in pulls:
                    index[pr.created.date()][0] += 1
                    if pr.merged:
                        index[pr.merged.date()][1] += 1
                        index[pr.merged.date()][3].append((pr.merged - pr.created).total_seconds() / 60)
                    if pr.reviews:
                        index[pr.reviews[0][1].date()][2] += 1
            self._pr_days = index
        created, merged, reviewed, minutes = self._pr_days.get(day, (0, 0, 0, []))
        out = {"total_created": created, "total_reviewed": reviewed, "total_merged": merged,
               "total_suggestions": reviewed * 3, "total_applied_suggestions": reviewed,
               "total_created_by_copilot": created // 9, "total_reviewed_by_copilot": reviewed // 2,
               "total_merged_created_by_copilot": merged // 10, "total_merged_reviewed_by_copilot": merged // 2,
               "total_copilot_suggestions": reviewed * 2, "total_copilot_applied_suggestions": reviewed // 2,
               "copilot_suggestions_by_comment_type": []}
        if minutes:
            out["median_minutes_to_merge"] = round(statistics.median(minutes), 1)
        return out

    def write(self, writer) -> None:
        for repo in sorted(self.pulls):
            pulls = sorted(self.pulls[repo], key=lambda pr: pr.number)
            api = f"https://api.github.com/repos/{repo}"
            served, reviews, files = [], [], []
            for pr in pulls:
                user = {"login": pr.author.login, "id": pr.author.user_id, "type": "User"}
                served.append({
                    "id": 10_000_000 + pr.number * 17 + len(repo), "number": pr.number,
                    "state": "closed" if pr.closed else "open", "title": pr.title, "user": user, "body": "",
                    "created_at": _iso(pr.created), "updated_at": _iso(pr.closed or pr.created),
                    "closed_at": _iso(pr.closed), "merged_at": _iso(pr.merged), "merge_commit_sha": pr.merge_sha,
                    "draft": False, "head": {"ref": pr.branch, "sha": pr.sha}, "base": {"ref": "main"},
                    "html_url": f"https://github.com/{repo}/pull/{pr.number}", "url": f"{api}/pulls/{pr.number}",
                    "labels": []})
                for k, (rv, at, state) in enumerate(pr.reviews):
                    reviews.append({"id": 20_000_000 + pr.number * 10 + k, "user": {"login": rv.login, "id": rv.user_id},
                                    "state": state, "submitted_at": _iso(at), "commit_id": pr.sha,
                                    "pull_request_url": f"{api}/pulls/{pr.number}"})
                if pr.files:
                    files.append({"number": pr.number, "files": pr.files})
            base = f"delivery/{repo}"
            writer.json("pulls", f"{base}/pulls.json", served, len(served))
            writer.json("reviews", f"{base}/reviews.json", reviews, len(reviews))
            writer.json("pull-files", f"{base}/pull-files.json", files, len(files))
            writer.json("deployments", f"{base}/deployments.json", self.deployments[repo], len(self.deployments[repo]))
            writer.json("deployment-statuses", f"{base}/deployment-statuses.json", self.statuses[repo], len(self.statuses[repo]))
            writer.json("issues", f"{base}/issues.json", self.incidents[repo], len(self.incidents[repo]))
