"""Delivery side of the demo org: pull requests, reviews, deployments with statuses, incidents.

Each team has one repo. What moves a team's cycle times, failures and restores week by week is
its scenario (`scenarios`): an effect of its usage, a drift of its own, or neither; `generate`
records the scenarios as ground truth.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from . import pull_content
from .injected import WeekEffect
from .org import ORG_LOGIN, Person

BOT = {"login": "dependabot[bot]", "id": 49699333, "type": "Bot"}


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
    labels: list[str] = field(default_factory=list)
    bot: bool = False  # opened by a bot account (dependency bumps)


class DeliverySimulation:
    """Simulates the org's delivery data; `write` puts it into the raw zone as GitHub serves it."""

    def __init__(self, seed: int, people: list[Person], holidays: set[date], plan,
                 picked: dict, start: date, end: date):
        self.rng = np.random.default_rng([seed, 4])
        self.people = people
        self.holidays = holidays
        self.plan = plan  # scenarios.DeliveryPlan: what drives each team's delivery week by week
        self.start, self.end = start, end
        self.span = max(1, (end - start).days)
        self.pulls: dict[str, list[PullRequest]] = defaultdict(list)
        self.deployments: dict[str, list[dict]] = defaultdict(list)
        self.statuses: dict[str, list[dict]] = defaultdict(list)
        self.incidents: dict[str, list[dict]] = defaultdict(list)
        self._next_id = 70_000_000
        self._numbers: dict[str, int] = defaultdict(int)
        self._review_pools: dict[tuple[int, date], tuple[list, list[Person], dict[int, int]]] = {}
        self._simulate_pulls(picked["by_user_week"], picked["partner"], picked["topic"])
        self._simulate_bots()
        self._simulate_deployments()
        self._simulate_on_call(picked["by_user_week"])

    # -- helpers -----------------------------------------------------------------------------
    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _sha(self) -> str:
        return "".join(f"{int(x):02x}" for x in self.rng.integers(0, 256, size=20))

    def _workdays(self, monday: date) -> list[date]:
        return [d for d in (monday + timedelta(days=i) for i in range(5))
                if d not in self.holidays and self.start <= d <= self.end]

    def repo_of(self, team: str) -> str:
        return f"{ORG_LOGIN}/{team}"

    def _cycle_hours(self, team: str, day: date) -> float:
        return float(self.rng.lognormal(np.log(self.plan.cycle_median_hours(team, day)), 0.6))

    def failure_probability(self, team: str, day: date) -> float:
        return self.plan.failure_probability(team, day)

    # -- simulation --------------------------------------------------------------------------
    def _next_number(self, repo: str) -> int:
        self._numbers[repo] += 1
        return self._numbers[repo]

    def _week_titles(self, p: Person, monday: date, effect: WeekEffect | None, n: int, partner: dict,
                     topic: dict) -> tuple[list[tuple[str, list[dict]]], float]:
        """The (title, files) of a developer's PRs this week and the chance each merges."""
        r, kind = self.rng, effect.kind if effect else None
        works = [pull_content.ordinary(r, p.team, p.segment) for _ in range(n)]
        if kind == "unmerged_output":
            return [pull_content.ordinary(r, p.team, p.segment) for _ in range(3 + int(r.integers(0, 2)))], 0.0
        if kind == "retry_no_accept":
            return works[:1], 0.0
        if kind == "duplicate_work":
            q = partner[(p.index, monday)]
            phrasing = int(p.index > q)  # the two sides title the same task differently
            return works[:1] + [pull_content.duplicate(r, topic[(p.index, monday)], phrasing, p.team, p.segment,
                                                       effect.strength)], 0.9
        if kind == "bump_titles":
            return works + [pull_content.bump(topic[(p.index, monday)])], 0.9
        if kind == "healthy_heavy":
            return works + [pull_content.ordinary(r, p.team, p.segment) for _ in range(2)], 0.95
        return works, 0.9

    def _simulate_pulls(self, chosen: dict, partner: dict, topic: dict) -> None:
        r = self.rng
        teams = defaultdict(list)
        for p in self.people:
            teams[p.team].append(p)
        monday = self.start - timedelta(days=self.start.weekday())
        while monday <= self.end:
            days = self._workdays(monday)
            for p in self.people:
                if not days or p.idle or not any(p.employed(d) for d in days):
                    continue
                n = int(r.poisson(p.pr_rate * len(days) / 5))
                works, merge_p = self._week_titles(p, monday, chosen.get((p.index, monday)), n, partner, topic)
                repo = self.repo_of(p.team)
                for title, files in works:
                    day = days[int(r.integers(len(days)))]
                    if not p.employed(day):
                        continue
                    self._add_pull(repo, p, title, files, _ts(day, float(r.uniform(9, 17))), merge_p, teams[p.team])
            monday += timedelta(days=7)

    def _reviewers(self, team: list[Person], author: Person, day: date) -> tuple[list[Person], int | None]:
        """Who of `team` can review on `day` (not idle, employed), and the author's place among them (or None).
        Built once per team and day: a list per pull request is quadratic in the team's size on a large org."""
        key = (id(team), day)
        hit = self._review_pools.get(key)
        if hit is None:
            pool = [q for q in team if not q.idle and q.employed(day)]
            hit = self._review_pools[key] = (team, pool, {q.index: i for i, q in enumerate(pool)})  # team kept alive
        return hit[1], hit[2].get(author.index)

    def _add_pull(self, repo: str, author: Person, title: str, files: list[dict], created: datetime, merge_p: float,
                  team: list[Person], labels: list[str] | None = None, merge_after: float | None = None) -> PullRequest:
        r = self.rng
        u = r.random()
        merged = closed = None
        if u < merge_p:
            hours = merge_after if merge_after is not None else self._cycle_hours(author.team, created.date())
            merged = closed = created + timedelta(hours=hours)
        elif u < merge_p + (1 - merge_p) * 0.6:
            closed = created + timedelta(hours=float(r.uniform(4, 72)))
        if merged and merged.date() > self.end + timedelta(days=1):
            merged = closed = None  # still open when the window ends
        pr = PullRequest(repo, self._next_number(repo), author, title, pull_content.branch(author.login, title), created,
                         merged, closed, self._sha(), self._sha() if merged else None, files=files, labels=labels or [])
        pool, own = self._reviewers(team, author, created.date())
        n_reviewers = len(pool) - (own is not None)
        if n_reviewers:
            first = created + timedelta(hours=float(r.lognormal(np.log(4.0), 0.8)))
            for k in range(1 + int(r.integers(0, 2))):
                i = int(r.integers(n_reviewers))
                rv = pool[i + 1 if own is not None and i >= own else i]  # the i-th of the pool without the author
                at = first + timedelta(hours=3 * k)
                if (merged and at > merged) or at.date() > self.end:
                    break
                pr.reviews.append((rv, at, "APPROVED" if k or r.random() < 0.7 else "COMMENTED"))
        self.pulls[repo].append(pr)
        return pr

    def _simulate_bots(self) -> None:
        """Dependabot opens the same bumps in several repos a week: identical titles, never duplicate work."""
        r = self.rng
        bot = Person(index=-1, user_id=BOT["id"], login=BOT["login"], name="Dependabot", team="", segment="",
                     second_team=None, intensity=0.0, acceptance=0.0, cli_user=False, hire_day=None, leave_day=None,
                     idle=False, ide="", languages=(), models=(), pr_rate=0.0)
        monday = self.start - timedelta(days=self.start.weekday())
        repos = sorted(self.pulls)
        while monday <= self.end:
            if r.random() < 0.5 and repos:
                title, files = pull_content.bump(int(r.integers(len(pull_content.BUMPS))))
                for repo in repos:
                    if r.random() < 0.6:
                        day = monday + timedelta(days=int(r.integers(0, 5)))
                        if day <= self.end:
                            pr = self._add_pull(repo, bot, title, [dict(f) for f in files], _ts(day, 6.0), 0.7, [],
                                                labels=["dependencies"], merge_after=float(r.uniform(2, 30)))
                            pr.bot = True
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
                hours = float(r.lognormal(np.log(self.plan.restore_median_hours(team, day)), 0.7))
                closed = opened + timedelta(hours=hours)
                with_root_cause = r.random() < 0.75
                body = f"Customer-facing errors after deploy.\n\nroot cause: {head.merge_sha}\n" if with_root_cause \
                    else "Error rate alert fired after the evening deploy; rolled back with a revert."
                self._incident(repo, f"Incident: elevated errors in {team}", body, opened, closed)
                if not with_root_cause:
                    author = head.author
                    merged = opened + timedelta(hours=1)
                    self.pulls[repo].append(PullRequest(repo, self._next_number(repo), author, f'Revert "{head.title}"',
                                                        f"revert-{head.number}", opened + timedelta(minutes=20), merged,
                                                        merged, self._sha(), self._sha()))

    def _incident(self, repo: str, title: str, body: str, opened: datetime, closed: datetime,
                  assignee: Person | None = None) -> int:
        number = self._next_number(repo)
        self.incidents[repo].append({
            "id": self._id(), "number": number, "title": title,
            "state": "closed" if closed.date() <= self.end else "open",
            "labels": [{"name": "incident"}], "user": {"login": "pager-bot", "id": 41898299, "type": "Bot"},
            "assignee": None if assignee is None else {"login": assignee.login, "id": assignee.user_id, "type": "User"},
            "assignees": [] if assignee is None else [{"login": assignee.login, "id": assignee.user_id, "type": "User"}],
            "body": body, "created_at": _iso(opened), "closed_at": _iso(closed) if closed.date() <= self.end else None,
            "html_url": f"https://github.com/{repo}/issues/{number}"})
        return number

    def _simulate_on_call(self, chosen: dict) -> None:
        """Weekend on-call with GitHub evidence: an incident assigned to the engineer and the hotfix they ship.

        On-call weekends known only from the rota leave nothing in GitHub (`injected.choose_weeks`
        records them for params).
        """
        r = self.rng
        by_index = {p.index: p for p in self.people}
        for (index, monday), effect in sorted(chosen.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if effect.kind != "on_call_incident":
                continue
            p = by_index[index]
            repo = self.repo_of(p.team)
            opened = _ts(monday + timedelta(days=5), float(r.uniform(7, 11)))
            hours = float(r.lognormal(np.log(self.plan.restore_median_hours(p.team, opened.date())), 0.7))
            number = self._incident(repo, f"Incident: {p.team} paging on weekend traffic",
                                    "Pager fired; on-call investigating.", opened, opened + timedelta(hours=hours), p)
            title, files = pull_content.hotfix(r, p.team, p.segment, number)
            self._add_pull(repo, p, title, files, opened + timedelta(hours=3), 1.0, [], labels=["hotfix"],
                           merge_after=2.0)

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
                user = {"login": pr.author.login, "id": pr.author.user_id, "type": "Bot" if pr.bot else "User"}
                served.append({
                    "id": 10_000_000 + pr.number * 17 + len(repo), "number": pr.number,
                    "state": "closed" if pr.closed else "open", "title": pr.title, "user": user, "body": "",
                    "created_at": _iso(pr.created), "updated_at": _iso(pr.closed or pr.created),
                    "closed_at": _iso(pr.closed), "merged_at": _iso(pr.merged), "merge_commit_sha": pr.merge_sha,
                    "draft": False, "head": {"ref": pr.branch, "sha": pr.sha}, "base": {"ref": "main"},
                    "html_url": f"https://github.com/{repo}/pull/{pr.number}", "url": f"{api}/pulls/{pr.number}",
                    "labels": [{"name": label} for label in pr.labels]})
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
