"""The fetch job: pull every kind of Copilot data from GitHub into the raw zone, incrementally.

Each kind module (`reports`, `org`, `delivery`) fetches its units through `context.run_units`. What
is already complete in the raw zone (manifest checksums) is skipped, except the last three days,
which GitHub may still revise. A rerun after any interruption completes the raw zone.
"""
from __future__ import annotations

import math
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone

from ..errors import UserError
from . import attribution, delivery, org, reports
from .context import (BILLING_KINDS, HISTORY_DAYS, LATEST_KINDS, ONE_DAY_KINDS, REPORT_KINDS, FetchConfig,
                      FetchContext, resolve_kinds)
from .github import GitHubClient, WaitBudgetExceeded, token_from_env
from .rawzone import RawZone


def resolve_window(config: FetchConfig, raw: RawZone, kinds: list[str], today: date) -> tuple[date, date, list[str]]:
    """(since, until, notes) after defaults and GitHub's limits; raises UserError on an impossible window."""
    until = config.until or today - timedelta(days=2)
    if until > today:
        raise UserError(f"--until {until} is after today ({today} UTC); GitHub has no data for the future")
    since = config.since
    notes = []
    oldest = today - timedelta(days=HISTORY_DAYS)
    if since is None:
        known = [date.fromisoformat(line["day"]) for line in raw.lines
                 if line.get("kind") in REPORT_KINDS and len(str(line.get("day", ""))) == 10]
        # From the earliest day on file, so gaps get back-filled; but never past GitHub's year, nor after --until.
        since = min(max(min(known), oldest), until) if known else until - timedelta(days=27)
        notes.append(f"--since defaulted to {since} ({'the earliest day in the raw zone' if known else '28 days'})")
    if since > until:
        raise UserError(f"--since {since} is after --until {until}; swap them")
    if since < oldest and any(k in ONE_DAY_KINDS + LATEST_KINDS for k in kinds):
        raise UserError(
            f"--since {since} is {(today - since).days} days back, but GitHub keeps usage reports for one year: "
            f"use --since {oldest} or later (billing and delivery reach further: fetch them alone with "
            f"--kinds billing,seats,teams,delivery)")
    return since, until, notes


def run_fetch(config: FetchConfig, client: GitHubClient | None = None, dry_run: bool = False,
              assume_users: int | None = None) -> dict:
    """Fetch the configured kinds into the raw zone and return the summary document.

    Parameters
    ----------
    config : what to fetch (org, window, kinds, repos, raw folder).
    client : a ready `GitHubClient` (tests inject one with a virtual clock); by default one is
        built from GITHUB_TOKEN / GH_TOKEN and `config.api_url`.
    dry_run : plan only: list what would be fetched and estimate the requests; no token needed.
    assume_users : head count for the dry-run estimate when the raw zone has no seats yet.

    Returns
    -------
    dict with `status` ("complete", "incomplete" or "stopped"), the window, per-kind results
    (fetched, skipped, empty, retried, failed, errors), request counts, seconds waited and notes.
    """
    today = config.today or datetime.now(timezone.utc).date()
    kinds = resolve_kinds(config.kinds, config.enterprise)
    bad = [r for r in config.repos if r.count("/") != 1 or not all(r.split("/"))]
    if bad:
        raise UserError(f"--repos: {', '.join(bad)} is not owner/name")
    raw = RawZone(config.raw_dir)
    if dry_run:
        raw.lines = raw.read_manifest()
        since, until, notes = resolve_window(config, raw, kinds, today)
        return plan(FetchContext(config, None, raw, today, since, until, kinds), notes, assume_users)
    status, stop_message = "complete", None
    with raw.locked():
        since, until, notes = resolve_window(config, raw, kinds, today)
        own_client = client is None
        if own_client:
            token, source = token_from_env()
            client = GitHubClient(token, config.api_url, config.policy, token_source=source)
        ctx = FetchContext(config, client, raw, today, since, until, kinds)
        ctx.notes.extend(notes)
        ctx.counters_at_start = (client.requests, client.download_count, client.waited)  # a reused client counts on
        client.start_run()
        runners = {**{k: reports.run for k in ONE_DAY_KINDS + LATEST_KINDS},
                   "seats": org.run_seats, "teams": org.run_teams,
                   **{k: org.run_billing for k in BILLING_KINDS}, "delivery": delivery.run,
                   "billing-usage": attribution.run_billing_usage, "cost-centers": attribution.run_cost_centers}
        try:
            for kind in kinds:
                runners[kind](ctx, kind)
        except WaitBudgetExceeded as exc:
            status, stop_message = "stopped", client.redact(str(exc))
        finally:
            if own_client:
                client.close()
    if status == "complete" and any(r.failed for r in ctx.results.values()):
        status = "incomplete"
    return summary(ctx, status, stop_message)


def summary(ctx: FetchContext, status: str, stop_message: str | None = None) -> dict:
    results = {k: asdict(r) for k, r in ctx.results.items()}
    totals = {key: sum(r[key] for r in results.values()) for key in ("fetched", "skipped", "empty", "retried", "failed")}
    doc = {"status": status, "org": ctx.config.org, "enterprise": ctx.config.enterprise,
           "since": ctx.since.isoformat(), "until": ctx.until.isoformat(), "raw": str(ctx.raw.root),
           "kinds": results, "totals": totals, "requests": ctx.client.requests - ctx.counters_at_start[0],
           "downloads": ctx.client.download_count - ctx.counters_at_start[1],
           "waited_seconds": round(ctx.client.waited - ctx.counters_at_start[2], 3), "notes": ctx.notes}
    if stop_message:
        doc["stopped"] = stop_message
    return doc


def format_summary(doc: dict) -> str:
    """The closing summary as a small table, for people."""
    lines = [f"fetch {doc['org']} {doc['since']}..{doc['until']} into {doc['raw']}: {doc['status']}",
             f"{'kind':<22} {'unit':<9} {'fetched':>7} {'skipped':>7} {'empty':>6} {'retried':>7} {'failed':>6}"]
    for kind, r in doc["kinds"].items():
        lines.append(f"{kind:<22} {r['unit']:<9} {r['fetched']:>7} {r['skipped']:>7} {r['empty']:>6} "
                     f"{r['retried']:>7} {r['failed']:>6}")
    t = doc["totals"]
    lines.append(f"{'total':<32} {t['fetched']:>7} {t['skipped']:>7} {t['empty']:>6} {t['retried']:>7} {t['failed']:>6}")
    lines.append(f"{doc['requests']} API requests, {doc['downloads']} report downloads, waited {doc['waited_seconds']:.0f} s")
    lines += [f"note: {n}" for n in doc["notes"]]
    for kind, r in doc["kinds"].items():
        lines += [f"error ({kind}): {e}" for e in r["errors"][:5]]
        if len(r["errors"]) > 5:
            lines.append(f"error ({kind}): … and {len(r['errors']) - 5} more")
    if doc.get("stopped"):
        lines.append(doc["stopped"])
    elif doc["status"] == "incomplete":
        lines.append("some units failed: rerun the same command to fetch what is missing")
    return "\n".join(lines)


# -- planning and cost ------------------------------------------------------------------------
def estimate_requests(users: int, days: int, *, months: int | None = None, teams: int = 0, repos: int = 0,
                      pulls_per_repo: int = 0, deployments_per_repo: int = 0, records_per_shard: int = 5000,
                      rate_per_hour: int = 5000, seconds_per_request: float = 0.3) -> dict:
    """API requests (and report downloads) for one full fetch, and how long it takes.

    Parameters
    ----------
    users : seated users (billing is queried once per user per month; seats come 100 a page).
    days : days of 1-day reports (three report kinds and the repository report, one request each per day).
    months : calendar months the window touches (default: a `days` window not aligned to months).
    teams : teams in the org (one members request each, up to 100 members).
    repos, pulls_per_repo, deployments_per_repo : delivery data (per PR: reviews and files; per deployment: statuses).
    records_per_shard : user records per report download link.
    rate_per_hour : primary rate limit (5,000 for a token; 15,000 for an app on GHEC).
    seconds_per_request : typical latency, for the wall-clock estimate of a sequential fetch.

    Returns
    -------
    dict: requests per kind, `api_requests`, `downloads` (signed links: not rate-limited),
    `quota_hours` (api_requests / rate_per_hour) and `wall_hours` (latency-bound while the
    requests fit one quota; beyond that, an hour per spent quota plus the remainder).
    """
    months = months if months is not None else math.ceil(days / 30) + 1
    pages = lambda n: max(1, math.ceil(n / 100))  # noqa: E731 - per_page=100 everywhere
    by_kind = {
        "reports (3 kinds x days)": 3 * days,
        "repository report (days)": days,
        "seats": pages(users),
        "billing (users x months)": users * months,
        "billing usage (months)": months,
        "teams and members": (pages(teams) + teams) if teams else 1,
        "delivery": repos * (pages(pulls_per_repo) + 2 * pulls_per_repo + pages(deployments_per_repo)
                             + deployments_per_repo + 1),
    }
    api = sum(by_kind.values())
    shards = max(1, math.ceil(users / records_per_shard))
    downloads = days * (shards + 3)
    latency_hours = (api + downloads) * seconds_per_request / 3600
    quota_hours = api / rate_per_hour
    if seconds_per_request * rate_per_hour >= 3600 or api <= rate_per_hour:
        wall = latency_hours  # the quota refills faster than a sequential fetch can spend it
    else:  # each spent quota waits out the rest of its hour; the last partial quota runs at latency speed
        full = api // rate_per_hour
        wall = full + ((api - full * rate_per_hour) + downloads) * seconds_per_request / 3600
    return {"by_kind": by_kind, "api_requests": api, "downloads": downloads, "quota_hours": round(quota_hours, 3),
            "wall_hours": round(wall, 3), "assumptions": {"users": users, "days": days, "months": months,
                                                          "teams": teams, "repos": repos, "rate_per_hour": rate_per_hour}}


def plan(ctx: FetchContext, notes: list[str], assume_users: int | None) -> dict:
    """The dry run: units to fetch or skip per kind (from the manifest), and a request estimate."""
    kinds = {}
    for kind in ctx.kinds:
        if kind in ONE_DAY_KINDS:
            todo, skip = reports.days_to_fetch(ctx, kind)
            kinds[kind] = {"unit": "day", "to_fetch": len(todo), "skip": len(skip)}
    seats = next((line for line in reversed(ctx.raw.lines) if line.get("kind") == "seats"), None)
    users = assume_users or (seats or {}).get("rows") or 1000
    days = (ctx.until - ctx.since).days + 1
    months = len({(ctx.since + timedelta(days=i)).strftime("%Y-%m") for i in range(days)})
    estimate = estimate_requests(users, days, months=months, repos=len(ctx.config.repos))
    basis = "--assume-users" if assume_users else "the latest seats in the raw zone" if seats else "a guess"
    notes = notes + [f"estimate for {users} users (from {basis}), {days} days, {months} month(s), as if nothing "
                     "were in the raw zone yet; delivery without its per-pull and per-deployment requests"]
    return {"status": "dry-run", "org": ctx.config.org, "since": ctx.since.isoformat(), "until": ctx.until.isoformat(),
            "raw": str(ctx.raw.root), "kinds": kinds, "estimate": estimate, "notes": notes}
