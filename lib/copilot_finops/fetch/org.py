"""Org-wide snapshots and billing: seats, teams with members, AI-credit and premium-request usage.

Seats and teams are snapshots of "now", filed under the --until day. Billing is queried once
per user and month (the org-wide answer drops the user), for everyone who held a seat or shows
up in the month's usage reports, so leavers' spend is not lost.
"""
from __future__ import annotations

import json
from datetime import date, timedelta

from .context import CREDITS_SINCE, SETTLE_DAYS, FetchContext, run_units
from .github import NEEDS_BILLING, NEEDS_TEAMS, response_json


def _snapshot_is_current(ctx: FetchContext, kind: str, rel: str) -> bool:
    lines = ctx.raw.latest(kind=kind, path=rel)
    return bool(lines) and all(ctx.raw.intact(line) for line in lines) and not ctx.recent(ctx.until)


def run_seats(ctx: FetchContext, kind: str = "seats") -> None:
    """raw/seats/<until>.json: every page object of the seats endpoint, as served."""
    rel = f"seats/{ctx.until.isoformat()}.json"

    def one(_):
        if _snapshot_is_current(ctx, kind, rel):
            return "skipped"
        pages = ctx.client.seat_pages(ctx.config.org)
        tmp, sha = ctx.raw.stage_json(pages)
        rows = sum(len(p.get("seats") or []) for p in pages)
        ctx.raw.commit([(tmp, rel, sha, rows)], [{"kind": kind, "day": ctx.until.isoformat(),
                                                  "source": ctx.source(f"/orgs/{ctx.config.org}/copilot/billing/seats")}])
        ctx.seat_pages = pages
        return "fetched"

    run_units(ctx, kind, [None], one, unit="snapshot")


def run_teams(ctx: FetchContext, kind: str = "teams") -> None:
    """raw/teams/<until>.json: the org's teams as served, each with a "members" array as served."""
    rel = f"teams/{ctx.until.isoformat()}.json"
    org = ctx.config.org

    def one(_):
        if _snapshot_is_current(ctx, kind, rel):
            return "skipped"
        api = ctx.client.api.teams
        teams = ctx.client.list_all(api.list, what=f"the teams of {org}", needs=NEEDS_TEAMS, org=org)
        for team in teams:
            team["members"] = ctx.client.list_all(api.list_members_in_org, what=f"the members of team {team['slug']}",
                                                  needs=NEEDS_TEAMS, org=org, team_slug=team["slug"])
        tmp, sha = ctx.raw.stage_json(teams)
        ctx.raw.commit([(tmp, rel, sha, len(teams))], [{"kind": kind, "day": ctx.until.isoformat(),
                                                        "source": ctx.source(f"/orgs/{org}/teams")}])
        return "fetched"

    run_units(ctx, kind, [None], one, unit="snapshot")


def months_in_window(ctx: FetchContext, kind: str) -> list[str]:
    """Months (YYYY-MM) the window touches that this billing unit covers: credits from June 2026, requests before."""
    months, day = [], ctx.since.replace(day=1)
    while day <= ctx.until:
        if (day >= CREDITS_SINCE) == (kind == "ai-credit-usage"):
            months.append(day.strftime("%Y-%m"))
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def _month_settled(ctx: FetchContext, month: str) -> bool:
    first = date.fromisoformat(f"{month}-01")
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return last < ctx.today - timedelta(days=SETTLE_DAYS)


def billing_month_kept(ctx: FetchContext, kind: str, month: str) -> bool:
    """A month's billing file of `kind` is in the raw zone, intact, and the month settled: no need to fetch it again."""
    lines = ctx.raw.latest(kind=kind, path=f"billing/{kind}/{month}.json")
    return bool(lines) and all(ctx.raw.intact(line) for line in lines) and _month_settled(ctx, month)


def billing_logins(ctx: FetchContext, month: str) -> list[str]:
    """Everyone billed in `month` may appear: current seat holders plus the users in that month's reports."""
    pages = ctx.seat_pages
    if pages is None:
        seat_lines = [line for line in ctx.raw.lines if line.get("kind") == "seats" and ctx.raw.intact(line)]
        if seat_lines:
            pages = json.loads((ctx.raw.root / seat_lines[-1]["path"]).read_bytes())
        else:  # no snapshot in the raw zone and none fetched this run: ask, but write nothing
            pages = ctx.client.seat_pages(ctx.config.org)
        ctx.seat_pages = pages
    logins = {(s.get("assignee") or {}).get("login") for p in pages for s in p.get("seats") or []}
    state = ctx.raw.day_state("users-1-day")
    for day, entry in state.items():
        if day and day.startswith(month) and entry.get("status") == 200 and ctx.raw.complete(entry):
            for line in entry["files"].values():
                with open(ctx.raw.root / line["path"], "rb") as f:
                    for record in f:
                        if record.strip():
                            logins.add(json.loads(record).get("user_login"))
    return sorted(login for login in logins if login)


def run_billing(ctx: FetchContext, kind: str) -> None:
    """raw/billing/<kind>/<YYYY-MM>.json: one response per user query, as served."""
    org = ctx.config.org
    op, endpoint = {
        "ai-credit-usage": (ctx.client.api.billing.get_github_billing_ai_credit_usage_report_org, "ai_credit"),
        "premium-request-usage": (ctx.client.api.billing.get_github_billing_premium_request_usage_report_org,
                                  "premium_request"),
    }[kind]
    months = months_in_window(ctx, kind)

    def one(month: str) -> str:
        rel = f"billing/{kind}/{month}.json"
        if billing_month_kept(ctx, kind, month):
            return "skipped"
        year, mon = int(month[:4]), int(month[5:])
        logins = billing_logins(ctx, month)
        bar = ctx.progress(f"{kind} {month}", len(logins), "user", leave=False)
        responses = []
        try:
            for login in logins:
                resp = ctx.client.request(op, what=f"the {kind} of {login} in {month}", needs=NEEDS_BILLING,
                                          org=org, year=year, month=mon, user=login)
                if resp.status_code != 204 and resp.content:
                    responses.append(response_json(resp, f"the {kind} of {login} in {month}"))
                bar.update(1)
        finally:
            bar.close()
        tmp, sha = ctx.raw.stage_json(responses)
        rows = sum(len(r.get("usageItems") or []) for r in responses if isinstance(r, dict))
        ctx.raw.commit([(tmp, rel, sha, rows)], [{
            "kind": kind, "month": month, "users": len(logins),
            "source": ctx.source(f"/organizations/{org}/settings/billing/{endpoint}/usage", year=year, month=mon, user="<each>")}])
        return "fetched"

    if not months:
        ctx.notes.append(f"{kind}: no month of the window is billed this way "
                         f"({'AI credits start' if kind == 'ai-credit-usage' else 'premium requests end'} {CREDITS_SINCE})")
    run_units(ctx, kind, months, one, unit="month")
