"""Usage-metrics reports: one request per day for signed links, then every shard downloaded.

The report endpoints answer `{download_links: [...], report_day}` or 204 (no report that day).
Links are signed and expire in about an hour, so they are used at once, never stored; a link
that expired or a shard that came back truncated sends us back to the report endpoint for
fresh links. A day is written only when all its shards are in hand.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from .context import LATEST_KINDS, FetchContext, run_units
from .github import (NEEDS_ENTERPRISE_METRICS, NEEDS_ORG_METRICS, DownloadFailed, GitHubUnavailable,
                     response_json)

MAX_LINK_REQUESTS = 8  # fresh sets of links per day before the day counts as failed


@dataclass(frozen=True)
class ReportSpec:
    org_op: str | None  # ghapi operation name (api.copilot.<name>) at organization scope
    enterprise_op: str | None  # … at enterprise scope, used when --enterprise is given


REPORTS = {
    "users-1-day": ReportSpec("copilot_organization_users_one_day_usage_metrics", "copilot_users_one_day_usage_metrics"),
    "user-teams-1-day": ReportSpec("copilot_organization_user_teams_one_day_report",
                                   "copilot_enterprise_user_teams_one_day_report"),
    "organization-1-day": ReportSpec("copilot_organization_one_day_usage_metrics", None),
    "enterprise-1-day": ReportSpec(None, "copilot_enterprise_one_day_usage_metrics"),
    "users-28-day": ReportSpec("copilot_organization_users_usage_metrics", "copilot_users_usage_metrics"),
    "organization-28-day": ReportSpec("copilot_organization_usage_metrics", None),
    "enterprise-28-day": ReportSpec(None, "copilot_enterprise_usage_metrics"),
    "repos-1-day": ReportSpec("copilot_organization_repos_one_day_report", "copilot_enterprise_repos_one_day_report"),
}


def days_to_fetch(ctx: FetchContext, kind: str, state: dict | None = None) -> tuple[list[date], list[date]]:
    """(days to fetch, days to skip) in the window: complete days are skipped unless still settling."""
    first = max(ctx.since, ctx.report_floor(kind))
    state = ctx.raw.day_state(kind) if state is None else state
    todo, skip = [], []
    for i in range((ctx.until - first).days + 1):
        day = first + timedelta(days=i)
        (skip if ctx.raw.complete(state.get(day.isoformat())) and not ctx.recent(day) else todo).append(day)
    return todo, skip


def run(ctx: FetchContext, kind: str) -> None:
    """Fetch one report kind: each day of the window, or the latest 28-day report."""
    if kind in LATEST_KINDS:
        run_units(ctx, kind, [None], lambda _: fetch_report(ctx, kind, None), unit="report")
        return
    floor = ctx.report_floor(kind)
    if ctx.since < floor:
        ctx.notes.append(f"{kind}: GitHub serves this report from {floor}; days before it were not requested")
    state = ctx.raw.day_state(kind)
    todo, skip = days_to_fetch(ctx, kind, state)
    done_before = [d for d in state if d and ctx.raw.complete(state[d])]
    latest_done = max(done_before) if done_before else None
    gaps = [d for d in todo if latest_done and d.isoformat() < latest_done and not ctx.recent(d)]
    units = sorted(todo + skip)
    todo_set = set(todo)
    run_units(ctx, kind, units, lambda d: fetch_report(ctx, kind, d) if d in todo_set else "skipped",
              unit="day", label=str)
    if gaps:
        shown = ", ".join(str(d) for d in gaps[:5]) + (" …" if len(gaps) > 5 else "")
        ctx.notes.append(f"{kind}: back-filled {len(gaps)} missing day(s) before {latest_done}: {shown}")


def _operation(ctx: FetchContext, kind: str):
    spec = REPORTS[kind]
    if ctx.config.enterprise and spec.enterprise_op:
        route = {"enterprise": ctx.config.enterprise}
        return (getattr(ctx.client.api.copilot, spec.enterprise_op), route, NEEDS_ENTERPRISE_METRICS,
                f"/enterprises/{ctx.config.enterprise}/copilot/metrics/reports/{kind}")
    return (getattr(ctx.client.api.copilot, spec.org_op), {"org": ctx.config.org}, NEEDS_ORG_METRICS,
            f"/orgs/{ctx.config.org}/copilot/metrics/reports/{kind}")


def fetch_report(ctx: FetchContext, kind: str, day: date | None) -> str:
    """Fetch one day (or, with `day=None`, the latest 28-day report) into raw/metrics/<kind>/<day>/.

    Returns "fetched", "empty" (204) or "skipped" (a 28-day report already complete).
    """
    op, route, needs, path = _operation(ctx, kind)
    query = {"day": day.isoformat()} if day else {}
    path += "" if day else "/latest"
    what = f"the {kind} report" + (f" for {day}" if day else "")
    source = ctx.source(path, **query)
    staged: dict[int, tuple] = {}
    problem = None
    for _ in range(MAX_LINK_REQUESTS):
        resp = ctx.client.request(op, what=what, needs=needs, **route, **query)
        if resp.status_code == 204 or not resp.content:
            ctx.raw.record({"kind": kind, **query, "status": 204, "source": source})
            return "empty"
        envelope = response_json(resp, what)
        if not isinstance(envelope, dict):
            raise GitHubUnavailable(f"{what}: expected an object with download_links, got {type(envelope).__name__}")
        key_day = day.isoformat() if day else envelope.get("report_end_day")
        if not key_day or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", key_day):
            raise GitHubUnavailable(f"{what}: the answer has no usable report day ({sorted(envelope)})")
        if day is None and ctx.raw.complete(ctx.raw.day_state(kind).get(key_day)):
            return "skipped"  # the latest 28-day window is already in the raw zone
        links = envelope.get("download_links") or []
        if not links:
            ctx.raw.record({"kind": kind, "day": key_day, "status": resp.status_code, "parts": 0, "source": source})
            return "empty"
        if len(staged) and max(staged) >= len(links):
            staged.clear()  # the report was re-sharded: shards of different sets must not mix
        try:
            for i, url in enumerate(links):
                if i not in staged:
                    tmp = ctx.raw.temp_path()
                    staged[i] = (tmp, *ctx.client.download(url, tmp, f"{what}, part {i}"))
        except DownloadFailed as exc:
            ctx.client.retries += 1  # counted as a retry: we go back for fresh links
            problem = exc
            continue
        _commit_day(ctx, kind, key_day, [staged[i] for i in range(len(links))], source)
        return "fetched"
    raise GitHubUnavailable(f"{what}: downloads kept failing after {MAX_LINK_REQUESTS} fresh sets of links "
                            f"({problem}); rerun to try again")


def _commit_day(ctx: FetchContext, kind: str, day: str, shards: list[tuple], source: str) -> None:
    folder = f"metrics/{kind}/{day}"
    staged = [(tmp, f"{folder}/part-{i}.ndjson", sha, rows) for i, (tmp, sha, rows) in enumerate(shards)]
    fields = [{"kind": kind, "day": day, "part": i, "parts": len(shards), "source": source} for i in range(len(shards))]
    existing = (ctx.raw.root / folder)
    stale = [] if not existing.is_dir() else [
        f"{folder}/{p.name}" for p in existing.iterdir()
        if (m := re.fullmatch(r"part-(\d+)\.ndjson", p.name)) and int(m.group(1)) >= len(shards)]
    ctx.raw.commit(staged, fields, stale=stale)
