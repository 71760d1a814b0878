"""Delivery data per repo: pulls (state=all) with reviews and files, deployments with statuses, incidents.

A repo's six files are one snapshot, `delivery/<owner>/<repo>/<kind>-<until>.json`, holding what
changed in the snapshot's window (pulls by `updated_at`, deployments by `created_at`, incident
issues by `since`). Ingest lets later snapshots win on natural keys, so a rerun only asks for
what changed since the last snapshot was fetched (with a day's margin), not the repo's whole history.

Pull requests, reviews and issues are live objects: any change moves a pull request's or an issue's
`updated_at`, and the lists are read up to the moment of the fetch, whatever `--until` says. So the
window starts from the day the last snapshot was fetched (`fetched_day` in the manifest), not from its
`until`, which trails the fetch by the usage reports' two publishing days; and a day before it
(`OVERLAP_DAYS`), for a fetch that ran for hours or a clock that is off. Counting from `until` minus
the usage reports' three settling days, as earlier versions did, asked a daily run for a week of
changes again, two requests per pull request (its reviews and its files). Deployments are listed by
creation: a deployment's statuses are read again while it is in a window, at least a day after it was
made, which is when a pipeline has long reported them.
"""
from __future__ import annotations

from datetime import date, timedelta

from .context import DELIVERY_KINDS, SETTLE_DAYS, FetchContext, run_units
from .github import NEEDS_REPO, NEEDS_TEAMS

OVERLAP_DAYS = 1  # a window starts this many days before the day the last snapshot was fetched


def repos_to_fetch(ctx: FetchContext) -> list[str]:
    """--repos as given, or every repo of the org for --all-repos (archived ones included: history counts)."""
    if ctx.config.repos:
        return list(ctx.config.repos)
    if not ctx.config.all_repos:
        return []
    org = ctx.config.org
    repos = ctx.client.list_all(ctx.client.api.repos.list_for_org, what=f"the repositories of {org}",
                                needs=f"{NEEDS_REPO}, and {NEEDS_TEAMS}", org=org, type="all")
    return sorted(r["full_name"] for r in repos)


def coverage(ctx: FetchContext, repo: str) -> tuple[date, date, date | None] | None:
    """The window complete snapshots of `repo` cover, and the day the latest of them was fetched (None for a
    snapshot written before the manifest said so); None without any. Snapshots chain without holes by
    construction."""
    batches: dict[str, list[dict]] = {}
    for line in ctx.raw.lines:
        if line.get("repo") == repo and line.get("kind") in DELIVERY_KINDS and "since" in line:
            batches.setdefault(line["fetched_at"], []).append(line)
    complete = {at: lines[0] for at, lines in batches.items()
                if {line["kind"] for line in lines} == set(DELIVERY_KINDS) and all(ctx.raw.intact(x) for x in lines)}
    if not complete:
        return None
    spans = [(date.fromisoformat(x["since"]), date.fromisoformat(x["until"])) for x in complete.values()]
    latest = complete[max(complete)].get("fetched_day")
    return min(s for s, _ in spans), max(u for _, u in spans), date.fromisoformat(latest) if latest else None


def window_for(ctx: FetchContext, repo: str) -> date | None:
    """The `since` day this run needs for `repo`, or None when complete snapshots already cover the window."""
    covered = coverage(ctx, repo)
    if covered is None or ctx.since < covered[0]:
        return ctx.since
    _, until, fetched = covered
    if until >= ctx.until and not ctx.recent(ctx.until):
        return None
    if fetched is None:  # a snapshot of an earlier version: its until, less the settle days
        return max(ctx.since, until - timedelta(days=SETTLE_DAYS))
    return max(ctx.since, window_start(fetched, ctx.until))


def window_start(fetched: date, until: date) -> date:
    """Where the next window starts after a snapshot fetched on `fetched`: what changed since its lists were read,
    with OVERLAP_DAYS of margin; never after the next run's `until`."""
    return min(until, fetched - timedelta(days=OVERLAP_DAYS))


def run(ctx: FetchContext, kind: str = "delivery") -> None:
    """Fetch each repository's delivery snapshot; a repo GitHub refuses fails alone."""
    repos = repos_to_fetch(ctx)
    if not repos:
        ctx.notes.append("delivery: no repositories asked for; pass --repos owner/name,… or --all-repos")
        return
    run_units(ctx, kind, repos, lambda repo: fetch_repo(ctx, repo), unit="repo", refusal_stops_kind=False)


def fetch_repo(ctx: FetchContext, repo: str) -> str:
    """Fetch one repo's delivery snapshot for its window; "skipped" when already covered."""
    since = window_for(ctx, repo)
    if since is None:
        return "skipped"
    owner, name = repo.split("/")
    since_ts = f"{since.isoformat()}T00:00:00Z"
    client, api = ctx.client, ctx.client.api
    where = dict(needs=NEEDS_REPO, owner=owner, repo=name)
    # Newest-updated first, so the walk stops at the first page that reaches back past the window.
    pulls = client.list_all(api.pulls.list, what=f"the pull requests of {repo}", state="all", sort="updated",
                            direction="desc", stop=lambda page: str(page[-1].get("updated_at") or "") < since_ts, **where)
    reviews, files = [], []
    # The last page may reach back past the window: it stays in the file (as served), but only
    # pulls updated in the window cost a review and a files request each.
    for pr in (p for p in pulls if str(p.get("updated_at") or "") >= since_ts):
        n = pr["number"]
        reviews += client.list_all(api.pulls.list_reviews, what=f"the reviews of {repo}#{n}", pull_number=n, **where)
        changed = client.list_all(api.pulls.list_files, what=f"the files of {repo}#{n}", pull_number=n, **where)
        if changed:
            files.append({"number": n, "files": changed})
    # Deployments come newest first; stop once a page reaches back past the window.
    deployments = client.list_all(api.repos.list_deployments, what=f"the deployments of {repo}",
                                  stop=lambda page: str(page[-1].get("created_at") or "") < since_ts, **where)
    statuses = []
    for dep in (d for d in deployments if str(d.get("created_at") or "") >= since_ts):
        statuses += client.list_all(api.repos.list_deployment_statuses, what=f"the statuses of deployment {dep['id']}",
                                    deployment_id=dep["id"], **where)
    label = ctx.config.incident_label
    issues = client.list_all(api.issues.list_for_repo, what=f"the {label!r} issues of {repo}", labels=label,
                             state="all", since=since_ts, **where)
    documents = {"pulls": pulls, "reviews": reviews, "pull-files": files, "deployments": deployments,
                 "deployment-statuses": statuses, "issues": issues}
    base = f"/repos/{repo}"
    sources = {"pulls": ctx.source(f"{base}/pulls", state="all", sort="updated", direction="desc"),
               "reviews": ctx.source(f"{base}/pulls/<each>/reviews"), "pull-files": ctx.source(f"{base}/pulls/<each>/files"),
               "deployments": ctx.source(f"{base}/deployments"),
               "deployment-statuses": ctx.source(f"{base}/deployments/<each>/statuses"),
               "issues": ctx.source(f"{base}/issues", labels=label, state="all", since=since_ts)}
    staged, fields = [], []
    for k in DELIVERY_KINDS:
        tmp, sha = ctx.raw.stage_json(documents[k])
        staged.append((tmp, f"delivery/{repo}/{k}-{ctx.until.isoformat()}.json", sha, len(documents[k])))
        fields.append({"kind": k, "repo": repo, "since": since.isoformat(), "until": ctx.until.isoformat(),
                       "fetched_day": ctx.today.isoformat(), "source": sources[k]})
    ctx.raw.commit(staged, fields)
    return "fetched"
