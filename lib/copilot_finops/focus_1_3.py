"""FOCUS 1.3 export: the month's rows of `focus` with 1.3's provider columns and the team split as allocation.

Column statuses follow FOCUS 1.3 (FinOps Open Cost and Usage Specification, Cost and Usage dataset, v1.3):
ServiceProviderName and HostProviderName join the mandatory columns (ProviderName and PublisherName are
deprecated, still mandatory), and a data generator that splits charges says so in the allocation columns.

The team split is a data generator-calculated split cost allocation: each org charge (the origin charge: the
month's seats of a plan, its AI credits, its premium requests) is replaced by one allocated charge per team and
one for what no team explains, and these add up to it. Per allocated charge:

- AllocatedMethodId names the method (see ALLOCATION_METHODS; the README documents each):
  `copilot-finops/seat-member-days` (a seat's days go to the teams its user was on that day, split equally),
  `copilot-finops/ai-credits-<pool_allocation>` (credits used beyond the team's share of the included pool),
  `copilot-finops/premium-requests-beyond-allowance`.
- AllocatedMethodDetails: {"Elements": [{"AllocatedRatio", "UsageUnit", "UsageQuantity"}], x_ properties}: the
  ratio is the row's share of the origin charge's BilledCost (of its ListCost when nothing of it is billed), so
  the ratios of one origin charge add up to 1; the unit and quantity are the row's PricingUnit and quantity.
- AllocatedResourceId / AllocatedResourceName: the team as GitHub writes it (`org/slug`) and its slug; null on
  the unallocated part ('(unattributed)' in 1.2: people on no team, teams under k members, pool remainders).
- AllocatedTags: the team's role segment as `copilot-finops/segment` and `copilot-finops/segment-label`.

AI credits keep their virtual currency: PricingCurrency 'AI Credits' with the PricingCurrency* prices and cost.
No x_ columns: what 1.2 carried in them is in the allocation columns.
"""
from __future__ import annotations

import json
import math

import duckdb
import numpy as np
import pandas as pd

from . import focus
from .params import OrgParams
from .period import Period

FOCUS_VERSION = "1.3"

# FOCUS 1.3 columns whose feature level is Mandatory (ProviderName and PublisherName: deprecated in 1.3, still there).
MANDATORY_COLUMNS = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "HostProviderName", "InvoiceIssuerName", "ListCost",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
    "ServiceProviderName",
)
ALLOCATION_COLUMNS = ("AllocatedMethodDetails", "AllocatedMethodId", "AllocatedResourceId", "AllocatedResourceName",
                      "AllocatedTags")
OTHER_COLUMNS = tuple(sorted(focus.OTHER_COLUMNS + ALLOCATION_COLUMNS))
FOCUS_COLUMNS = MANDATORY_COLUMNS + OTHER_COLUMNS
JSON_COLUMNS = ("AllocatedMethodDetails", "AllocatedTags")  # JSON objects, serialised as strings

TAG_PREFIX = "copilot-finops/"  # data generator-defined tag keys carry a prefix of their own (FOCUS key-value format)
ORIGIN_CHARGE = ["ChargeCategory", "SkuPriceId", "ChargePeriodStart", "ChargePeriodEnd"]  # rows of one org charge


def allocation_method(sku_id: str, pool_allocation: str) -> str:
    """AllocatedMethodId of a charge, by its SkuId (seats, AI credits, premium requests)."""
    if sku_id.endswith("-seat"):
        return "copilot-finops/seat-member-days"
    if sku_id == "copilot-ai-credits":
        return f"copilot-finops/ai-credits-{pool_allocation.replace('_', '-')}"
    return "copilot-finops/premium-requests-beyond-allowance"


def from_focus_1_2(rows: pd.DataFrame, params: OrgParams) -> pd.DataFrame:
    """The 1.3 rows of a 1.2 export (`focus.focus_rows`): same charges and costs, 1.3 columns."""
    out = rows.copy()
    # GitHub does not say whose infrastructure Copilot runs on; 1.3 lets HostProviderName be the service provider.
    out["ServiceProviderName"] = out["ProviderName"]
    out["HostProviderName"] = out["ProviderName"]
    groups = out.groupby(ORIGIN_CHARGE, dropna=False)
    billed, listed = groups["BilledCost"].transform("sum"), groups["ListCost"].transform("sum")
    count = groups["BilledCost"].transform("size")
    ratio = np.where(billed > 0, out["BilledCost"] / billed.where(billed > 0, 1.0),
                     np.where(listed > 0, out["ListCost"] / listed.where(listed > 0, 1.0), 1.0 / count))
    attributed = out["x_Team"] != focus.UNATTRIBUTED
    out["AllocatedMethodId"] = [allocation_method(s, params.pool_allocation) for s in out["SkuId"]]
    out["AllocatedMethodDetails"] = [
        json.dumps({"Elements": [{"AllocatedRatio": float(r), "UsageUnit": unit, "UsageQuantity": float(q)}],
                    "x_SharedUsersSplit": "equal", "x_PoolAllocation": pool,
                    **({"x_IncludedCredits": float(inc)} if _number(inc) else {})})
        for r, unit, q, pool, inc in zip(ratio, out["PricingUnit"], out["PricingQuantity"], out["x_PoolAllocation"],
                                         out["x_IncludedCredits"])]
    out["AllocatedResourceId"] = [f"{params.org}/{t}" if a else None for t, a in zip(out["x_Team"], attributed)]
    out["AllocatedResourceName"] = [t if a else None for t, a in zip(out["x_Team"], attributed)]
    out["AllocatedTags"] = [_tags(seg, label) if a else None
                            for seg, label, a in zip(out["x_Segment"], out["x_SegmentLabel"], attributed)]
    return out[list(FOCUS_COLUMNS)].reset_index(drop=True)


def _number(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _tags(segment: str, label: str) -> str | None:
    tags = {f"{TAG_PREFIX}segment": segment, f"{TAG_PREFIX}segment-label": label}
    tags = {k: v for k, v in tags.items() if v}
    return json.dumps(tags) if tags else None


def focus_export(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, as_of=None) -> pd.DataFrame:
    """The month's FOCUS 1.3 rows from the warehouse (the 1.2 rows, re-expressed: same charges, same costs)."""
    return from_focus_1_2(focus.focus_export(con, period, params, as_of), params)


def teams(rows: pd.DataFrame) -> list[str]:
    """The teams the rows are allocated to, with '(unattributed)' for the unallocated part."""
    return sorted(set(rows["AllocatedResourceName"].fillna(focus.UNATTRIBUTED)))


def validate_focus(frame: pd.DataFrame) -> list[str]:
    """Problems against the FOCUS 1.3 rules this export claims: [] when it conforms.

    The 1.2 checks with 1.3's mandatory and known columns (`focus.validate_focus`), then split cost allocation:
    AllocatedMethodId on every row; AllocatedResourceName null exactly when AllocatedResourceId is; JSON columns
    hold JSON objects; AllocatedTags null on unallocated rows; each row's AllocatedMethodDetails has Elements with
    an AllocatedRatio in [0, 1], and the ratios of one origin charge add up to 1.
    """
    problems = focus.validate_focus(frame, MANDATORY_COLUMNS, FOCUS_COLUMNS)
    if not set(ALLOCATION_COLUMNS) <= set(frame.columns):
        return problems + [f"allocation column {c} is missing" for c in ALLOCATION_COLUMNS if c not in frame.columns]
    if frame["AllocatedMethodId"].isna().any():
        problems.append("AllocatedMethodId must be set on every allocated charge")
    if (frame["AllocatedResourceId"].isna() != frame["AllocatedResourceName"].isna()).any():
        problems.append("AllocatedResourceName must be null exactly when AllocatedResourceId is")
    if (frame["AllocatedResourceId"].isna() & frame["AllocatedTags"].notna()).any():
        problems.append("AllocatedTags must be null on the unallocated part of a charge")
    ratios = []
    for column in JSON_COLUMNS:
        for i, text in frame[column].items():
            value = _json_object(text)
            if not pd.isna(text) and value is None:
                problems.append(f"{column} on row {i} is not a JSON object")
            elif column == "AllocatedMethodDetails" and value is not None:
                elements = value.get("Elements")
                good = isinstance(elements, list) and elements and all(
                    isinstance(e, dict) and isinstance(e.get("AllocatedRatio"), (int, float))
                    and 0 <= e["AllocatedRatio"] <= 1 + 1e-9 for e in elements)
                if not good:
                    problems.append(f"AllocatedMethodDetails on row {i} needs Elements with an AllocatedRatio in [0, 1]")
                ratios.append(sum(e["AllocatedRatio"] for e in elements) if good else np.nan)
    if len(ratios) == len(frame) and not np.isnan(ratios).any():
        sums = pd.Series(ratios, index=frame.index).groupby([frame[c] for c in ORIGIN_CHARGE], dropna=False).sum()
        if (abs(sums - 1) > 1e-6).any():
            problems.append("the AllocatedRatio of one origin charge's allocated charges must add up to 1")
    return problems


def _json_object(text) -> dict | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
