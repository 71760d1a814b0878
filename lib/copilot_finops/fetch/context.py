"""What every fetch kind shares: the kinds and their limits, the run's configuration and context, and
`run_units`, the one loop through which each kind module (`reports`, `org`, `delivery`) fetches its
units (a day, a month, a snapshot, a repo) while keeping the summary and the progress bar.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from ..errors import UserError
from .rawzone import RawZone
from .github import (DEFAULT_API_URL, GitHubAccessError, GitHubAuthError, GitHubClient, GitHubError, RetryPolicy,
                     WaitBudgetExceeded)

SETTLE_DAYS = 3  # GitHub finalises a day within three full UTC days: re-pull those every run
HISTORY_DAYS = 365  # usage reports go back one year
ORG_FIRST_DAY = date(2025, 12, 12)  # first day of organization-level reports
ENTERPRISE_FIRST_DAY = date(2025, 10, 10)  # first day of enterprise-level reports
CREDITS_SINCE = date(2026, 6, 1)  # AI credits replaced premium requests on this day
REPOS_FIRST_DAY = date(2026, 7, 17)  # repository-level reports (repos-1-day) became generally available

REPORT_KINDS = ("users-1-day", "user-teams-1-day", "organization-1-day")
BOOTSTRAP_KINDS = ("users-28-day", "organization-28-day")
ENTERPRISE_KINDS = ("enterprise-1-day", "enterprise-28-day")
REPO_KINDS = ("repos-1-day",)  # GitHub's repository report: attribution of pull-request work to repositories
ONE_DAY_KINDS = REPORT_KINDS + ENTERPRISE_KINDS[:1] + REPO_KINDS  # one request per day
LATEST_KINDS = BOOTSTRAP_KINDS + ENTERPRISE_KINDS[1:]  # one request for the latest 28 days
BILLING_KINDS = ("ai-credit-usage", "premium-request-usage")
DELIVERY_KINDS = ("pulls", "reviews", "pull-files", "deployments", "deployment-statuses", "issues")
USAGE_KINDS = ("billing-usage",)  # the org's billing usage: Actions minutes by repository and workflow
COST_CENTER_KINDS = ("cost-centers",)  # the enterprise's billing cost centers (needs --enterprise)
DEFAULT_KINDS = REPORT_KINDS + REPO_KINDS + ("seats", "teams") + BILLING_KINDS + USAGE_KINDS + ("delivery",)
KIND_ORDER = (REPORT_KINDS + REPO_KINDS + BOOTSTRAP_KINDS + ENTERPRISE_KINDS + ("seats", "teams") + BILLING_KINDS
              + USAGE_KINDS + COST_CENTER_KINDS + ("delivery",))
GROUPS = {"all": DEFAULT_KINDS, "metrics": REPORT_KINDS, "bootstrap": BOOTSTRAP_KINDS, "billing": BILLING_KINDS,
          "attribution": REPO_KINDS + USAGE_KINDS + COST_CENTER_KINDS, **{k: ("delivery",) for k in DELIVERY_KINDS}}


@dataclass
class FetchConfig:
    """What one fetch run asks for. Dates are UTC days; `None` means the default described per field."""

    org: str
    raw_dir: Path
    since: date | None = None  # default: the earliest day already in the raw zone, else until - 27
    until: date | None = None  # default: today - 2 (GitHub publishes a day within two UTC days)
    enterprise: str | None = None  # user reports at enterprise scope (data from 2025-10-10)
    api_url: str = DEFAULT_API_URL
    repos: list[str] = field(default_factory=list)
    all_repos: bool = False
    kinds: list[str] | None = None  # default: DEFAULT_KINDS (28-day reports only when asked for)
    incident_label: str = "incident"
    today: date | None = None  # default: today in UTC; tests pin it
    progress: bool | None = None  # None: progress bars on a terminal only
    policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class KindResult:
    """Outcome of one kind: units (days, months, snapshots, repos) by what happened to them."""

    unit: str
    fetched: int = 0
    skipped: int = 0
    empty: int = 0  # 204: GitHub has no report for that day
    retried: int = 0  # requests retried (5xx, connection, rate limit, expired or truncated download)
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def resolve_kinds(requested: list[str] | None, enterprise: str | None) -> list[str]:
    """Expand group names, check every name, and order kinds so billing sees this run's seats and reports."""
    if not requested:
        return list(DEFAULT_KINDS)
    chosen: set[str] = set()
    for name in requested:
        if name in GROUPS:
            chosen.update(GROUPS[name])
        elif name in KIND_ORDER:
            chosen.add(name)
        else:
            raise UserError(f"--kinds: unknown kind {name!r}; choose from {', '.join(KIND_ORDER)} "
                            f"or the groups {', '.join(g for g in GROUPS if g not in DELIVERY_KINDS)}")
    needs_enterprise = chosen & set(ENTERPRISE_KINDS + COST_CENTER_KINDS)
    if needs_enterprise and not enterprise:
        raise UserError(f"--kinds {', '.join(sorted(needs_enterprise))} needs --enterprise ENTERPRISE")
    return [k for k in KIND_ORDER if k in chosen]


class FetchContext:
    """Everything a kind module needs: the resolved window, the client, the raw zone, the summary."""

    def __init__(self, config: FetchConfig, client: GitHubClient | None, raw: RawZone, today: date,
                 since: date, until: date, kinds: list[str]):
        self.config, self.client, self.raw = config, client, raw
        self.today, self.since, self.until, self.kinds = today, since, until, kinds
        self.results: dict[str, KindResult] = {}
        self.notes: list[str] = []
        self.seat_pages: list[dict] | None = None  # this run's seats, for the billing queries
        self.counters_at_start = (0, 0, 0.0)

    def recent(self, day: date) -> bool:
        """Within the days GitHub may still revise: always re-pulled."""
        return day >= self.today - timedelta(days=SETTLE_DAYS)

    def report_floor(self, kind: str) -> date:
        enterprise_scope = bool(self.config.enterprise) and kind not in ("organization-1-day", "organization-28-day")
        floor = ENTERPRISE_FIRST_DAY if enterprise_scope else ORG_FIRST_DAY
        return max(floor, REPOS_FIRST_DAY) if kind in REPO_KINDS else floor

    def source(self, path: str, **query) -> str:
        """Where data came from, for the manifest: the API request, never a signed link or a token."""
        q = "&".join(f"{k}={v}" for k, v in query.items() if v is not None)
        return f"{self.config.api_url.rstrip('/')}{path}" + (f"?{q}" if q else "")

    def progress(self, kind: str, total: int, unit: str, leave: bool = True):
        """A tqdm bar on stderr; disable=None lets tqdm decide: bars on a terminal, silence in logs and pipes."""
        from tqdm import tqdm
        disable = (None if self.config.progress is None else not self.config.progress) if total else True
        return tqdm(total=total, desc=f"{kind:<22}", unit=unit, file=sys.stderr, leave=leave, disable=disable)


def run_units(ctx: FetchContext, kind: str, units: list, fetch_one: Callable, unit: str,
              refusal_stops_kind: bool = True, label: Callable = str) -> KindResult:
    """Fetch `units` one by one; `fetch_one(unit)` returns "fetched", "skipped" or "empty".

    A 403/404 stops an org-wide kind (every unit would be refused alike) but only fails one
    repo; a unit that fails after its retries is counted and the run moves on; a 401 or a spent
    wait budget stops the whole run.
    """
    result = ctx.results.setdefault(kind, KindResult(unit))
    bar = ctx.progress(kind, len(units), unit)
    try:
        for i, item in enumerate(units):
            before = ctx.client.retries if ctx.client else 0
            try:
                outcome = fetch_one(item)
                setattr(result, outcome, getattr(result, outcome) + 1)
            except (GitHubAuthError, WaitBudgetExceeded):
                raise
            except GitHubAccessError as exc:
                result.errors.append(ctx.client.redact(str(exc)))
                if refusal_stops_kind:
                    result.failed += len(units) - i
                    break
                result.failed += 1
            except GitHubError as exc:
                result.failed += 1
                result.errors.append(f"{label(item)}: {ctx.client.redact(str(exc))}")
            finally:
                result.retried += (ctx.client.retries if ctx.client else 0) - before
                bar.update(1)
    finally:
        bar.close()
    return result
