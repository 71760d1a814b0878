"""Attribution sources: the org's billing usage (Actions minutes by repository and workflow, beside Copilot's own
SKUs) and the enterprise's billing cost centers. (GitHub's repository report, repos-1-day, is a report kind of
`reports`.)

Billing usage is one request per month: raw/billing/billing-usage/<YYYY-MM>.json, the response as served. Cost
centers are a snapshot of "now", filed under the --until day like seats and teams:
raw/cost-centers/<until>.json. The cost-centers endpoint is enterprise-only and not in ghapi's description of
api.github.com, so it is called by path.
"""
from __future__ import annotations

from datetime import timedelta

import httpx2

from .context import FetchContext, run_units
from .github import NEEDS_BILLING, response_json
from .org import _snapshot_is_current, billing_month_kept

NEEDS_COST_CENTERS = ("a classic token with manage_billing:enterprise or read:enterprise, held by an enterprise owner "
                      "or billing manager (GitHub Apps and fine-grained tokens are not accepted)")


def months_of_window(ctx: FetchContext) -> list[str]:
    """Every month (YYYY-MM) the window touches."""
    months, day = [], ctx.since.replace(day=1)
    while day <= ctx.until:
        months.append(day.strftime("%Y-%m"))
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def run_billing_usage(ctx: FetchContext, kind: str = "billing-usage") -> None:
    """raw/billing/billing-usage/<YYYY-MM>.json: the org's billing usage of each month of the window."""
    org = ctx.config.org
    op = ctx.client.api.billing.get_github_billing_usage_report_org

    def one(month: str) -> str:
        rel = f"billing/{kind}/{month}.json"
        if billing_month_kept(ctx, kind, month):
            return "skipped"
        year, mon = int(month[:4]), int(month[5:])
        what = f"the billing usage of {org} in {month}"
        resp = ctx.client.request(op, what=what, needs=NEEDS_BILLING, org=org, year=year, month=mon)
        document = [] if resp.status_code == 204 or not resp.content else [response_json(resp, what)]
        tmp, sha = ctx.raw.stage_json(document)
        rows = sum(len(r.get("usageItems") or []) for r in document if isinstance(r, dict))
        ctx.raw.commit([(tmp, rel, sha, rows)], [{"kind": kind, "month": month,
                                                  "source": ctx.source(f"/organizations/{org}/settings/billing/usage",
                                                                       year=year, month=mon)}])
        return "fetched"

    run_units(ctx, kind, months_of_window(ctx), one, unit="month")


def by_path(ctx: FetchContext, path: str):
    """A ghapi-like operation for an endpoint ghapi does not describe: GET `path` (route filled in) with a query."""
    api = ctx.client.api

    def op(raw_: bool = True, **query):
        try:
            return api.transport.request("GET", api.gh_host.rstrip("/") + path, params=query or None, raw=True)
        except (httpx2.HTTPStatusError, httpx2.RequestError) as exc:
            raise exc.api_error(endpoint=path) from exc
    return op


def run_cost_centers(ctx: FetchContext, kind: str = "cost-centers") -> None:
    """raw/cost-centers/<until>.json: the enterprise's cost centers with their resources, as served."""
    enterprise = ctx.config.enterprise
    rel = f"cost-centers/{ctx.until.isoformat()}.json"
    path = f"/enterprises/{enterprise}/settings/billing/cost-centers"

    def one(_):
        if _snapshot_is_current(ctx, kind, rel):
            return "skipped"
        resp = ctx.client.request(by_path(ctx, path), what=f"the cost centers of {enterprise}", needs=NEEDS_COST_CENTERS,
                                  state="active")
        document = response_json(resp, f"the cost centers of {enterprise}")
        tmp, sha = ctx.raw.stage_json(document)
        rows = len(document.get("costCenters") or []) if isinstance(document, dict) else 0
        ctx.raw.commit([(tmp, rel, sha, rows)], [{"kind": kind, "day": ctx.until.isoformat(),
                                                  "source": ctx.source(path, state="active")}])
        return "fetched"

    run_units(ctx, kind, [None], one, unit="snapshot")
