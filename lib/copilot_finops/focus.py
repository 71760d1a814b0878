"""FOCUS export: a month's Copilot cost as rows in FinOps FOCUS 1.2 columns, with team and segment as x_ columns.

Column statuses and allowed values below follow the FOCUS 1.2 specification (FinOps Open Cost and Usage
Specification, Cost and Usage dataset, v1.2). Rows per team and charge:

- seats: ChargeCategory Purchase, Recurring; PricingUnit "Seat-Months" (prorated seat-days / days in month).
- AI credits (from credit billing start): Usage, Usage-Based; priced in the virtual currency "AI Credits":
  ListCost is every credit at list price, BilledCost / EffectiveCost only what the included pool did not cover,
  and PricingCurrencyEffectiveCost is the same in credits.
- premium requests (before credit billing): Usage, Usage-Based; requests beyond each user's allowance billed.

Rows must add up to the bill, so a user on several teams is split equally between them here (the cost model
counts them in each team, as GitHub's team reports do); seats and usage of people on no team, of teams with
fewer than k members (privacy), and any credit cost no team's share explains, go to rows with x_Team
'(unattributed)'.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd

from . import bill, cost
from .errors import UserError
from .params import OrgParams
from .period import Period

FOCUS_VERSION = "1.2"

# FOCUS 1.2 columns whose feature level is Mandatory (present in every dataset).
MANDATORY_COLUMNS = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
)
# Mandatory columns that FOCUS 1.2 allows to be null (PricingQuantity / PricingUnit for Tax rows or no SKU price).
MANDATORY_NULLABLE = ("ChargeClass", "PricingQuantity", "PricingUnit")
# Recommended and conditional FOCUS 1.2 columns this export fills (the provider publishes SKUs and list prices,
# prices in a virtual currency, and measures usage).
OTHER_COLUMNS = (
    "BillingAccountType", "ChargeFrequency", "ConsumedQuantity", "ConsumedUnit", "ContractedUnitPrice",
    "ListUnitPrice", "PricingCategory", "PricingCurrency", "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "ServiceSubcategory", "SkuId", "SkuPriceId",
)
FOCUS_COLUMNS = MANDATORY_COLUMNS + OTHER_COLUMNS
CUSTOM_COLUMNS = ("x_Team", "x_Segment", "x_SegmentLabel", "x_PoolAllocation", "x_IncludedCredits", "x_CreditsUsed",
                  "x_SharedUsersSplit")

ALLOWED_VALUES = {
    "ChargeCategory": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    "ChargeClass": ("Correction",),  # null for regular charges
    "ChargeFrequency": ("One-Time", "Recurring", "Usage-Based"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other"),
    "ServiceCategory": (
        "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
        "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
        "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other"),
}
SERVICE = {"ServiceName": "GitHub Copilot", "ServiceCategory": "AI and Machine Learning",
           "ServiceSubcategory": "Generative AI", "ProviderName": "GitHub", "PublisherName": "GitHub",
           "InvoiceIssuerName": "GitHub"}
CREDIT_CURRENCY = "AI Credits"
UNATTRIBUTED = "(unattributed)"


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _base_row(params: OrgParams, period: Period, charge_end: date, team: str) -> dict:
    segment = params.segment_of(team) if team != UNATTRIBUTED else ""
    labels = {seg: s.label for seg, s in params.segments.items()}
    return {**SERVICE,
            "BillingAccountId": params.enterprise or params.org, "BillingAccountName": params.enterprise or params.org,
            "BillingAccountType": "Enterprise" if params.enterprise else "Organization",
            "BillingCurrency": params.currency,
            "BillingPeriodStart": _utc(period.start), "BillingPeriodEnd": _utc(period.end + timedelta(days=1)),
            "ChargePeriodStart": _utc(period.start), "ChargePeriodEnd": _utc(charge_end + timedelta(days=1)),
            "ChargeClass": None, "PricingCategory": "Standard",
            "x_Team": team, "x_Segment": segment, "x_SegmentLabel": labels.get(segment, ""),
            "x_PoolAllocation": params.pool_allocation, "x_SharedUsersSplit": True}


def _seat_row(base: dict, params: OrgParams, plan: str, seat_months: float) -> dict:
    price = params.prices.seat_per_month[plan]
    amount = seat_months * price
    return {**base, "ChargeCategory": "Purchase", "ChargeFrequency": "Recurring",
            "ChargeDescription": f"GitHub Copilot {plan.title()} seats, prorated by day",
            "SkuId": f"copilot-{plan}-seat", "SkuPriceId": f"copilot-{plan}-seat-{price:g}-{params.currency.lower()}-month",
            "PricingQuantity": seat_months, "PricingUnit": "Seat-Months", "ConsumedQuantity": None, "ConsumedUnit": None,
            "ListUnitPrice": price, "ContractedUnitPrice": price, "ListCost": amount, "ContractedCost": amount,
            "BilledCost": amount, "EffectiveCost": amount, "PricingCurrency": params.currency,
            "PricingCurrencyListUnitPrice": price, "PricingCurrencyContractedUnitPrice": price,
            "PricingCurrencyEffectiveCost": amount, "x_IncludedCredits": None, "x_CreditsUsed": None}


def _credit_row(base: dict, params: OrgParams, credits_used: float, credits_billed: float, included: float | None) -> dict:
    price = params.prices.ai_credit
    return {**base, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
            "ChargeDescription": "GitHub Copilot AI credits (chat, agent and CLI use); the included pool covers part",
            "SkuId": "copilot-ai-credits", "SkuPriceId": f"copilot-ai-credits-{price:g}-{params.currency.lower()}",
            "PricingQuantity": credits_used, "PricingUnit": CREDIT_CURRENCY, "ConsumedQuantity": credits_used,
            "ConsumedUnit": CREDIT_CURRENCY, "ListUnitPrice": price, "ContractedUnitPrice": price,
            "ListCost": credits_used * price, "ContractedCost": credits_used * price,
            "BilledCost": credits_billed * price, "EffectiveCost": credits_billed * price,
            "PricingCurrency": CREDIT_CURRENCY, "PricingCurrencyListUnitPrice": 1.0,
            "PricingCurrencyContractedUnitPrice": 1.0, "PricingCurrencyEffectiveCost": credits_billed,
            "x_IncludedCredits": included, "x_CreditsUsed": credits_used}


def _premium_row(base: dict, params: OrgParams, requests: float, billable: float) -> dict:
    price = params.prices.premium_request
    return {**base, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
            "ChargeDescription": "GitHub Copilot premium requests beyond each user's monthly allowance",
            "SkuId": "copilot-premium-requests", "SkuPriceId": f"copilot-premium-request-{price:g}-{params.currency.lower()}",
            "PricingQuantity": requests, "PricingUnit": "Requests", "ConsumedQuantity": requests, "ConsumedUnit": "Requests",
            "ListUnitPrice": price, "ContractedUnitPrice": price, "ListCost": requests * price,
            "ContractedCost": requests * price, "BilledCost": billable * price, "EffectiveCost": billable * price,
            "PricingCurrency": params.currency, "PricingCurrencyListUnitPrice": price,
            "PricingCurrencyContractedUnitPrice": price, "PricingCurrencyEffectiveCost": billable * price,
            "x_IncludedCredits": None, "x_CreditsUsed": None}


def focus_rows(quantities: pd.DataFrame, org: dict, params: OrgParams, period: Period, charge_end: date,
               small_teams: set[str] = frozenset()) -> pd.DataFrame:
    """FOCUS rows from split team quantities (`bill.split_team_quantities`, team_slug '' = no team).

    Parameters
    ----------
    quantities : per team_slug: seat_months (+ per plan), ai_credits, premium_requests, premium_billable_requests.
    org : the org's month (`cost.org_month_quantities`), for the included pool.
    charge_end : the last day charged (the period's end, or the as-of day of a month in progress).
    small_teams : teams with fewer than k members; their rows are folded into '(unattributed)'.

    Returns
    -------
    Frame with FOCUS_COLUMNS then CUSTOM_COLUMNS, one row per team and charge with a non-zero quantity.
    """
    q = quantities.copy()
    q["team_slug"] = q["team_slug"].where(~q["team_slug"].isin({"", *small_teams}), UNATTRIBUTED)
    q = q.groupby("team_slug", as_index=False).sum(numeric_only=True)
    rows = []
    credit_era = cost.credit_era(period, params)
    if credit_era:
        teams = q[q["team_slug"] != UNATTRIBUTED].assign(pool_share=lambda f: cost.included_pool(f, params, period))
        pool = float(cost.included_pool(pd.DataFrame([org]), params, period).iloc[0])
        allocated = cost.allocate_pool(teams, org["ai_credits"], pool, params.pool_allocation).set_index("team_slug")
        org_billed = org["ai_credits"] if params.pool_allocation == "none" else max(0.0, org["ai_credits"] - pool)
        leftover = max(0.0, org_billed - float(allocated["billed_credits"].sum()))
    for _, r in q.iterrows():
        team = r["team_slug"]
        base = _base_row(params, period, charge_end, team)
        by_plan = {plan: float(r.get(f"{plan}_seat_months", 0.0)) for plan in cost.PLANS}
        by_plan[params.plan] += float(r["seat_months"]) - sum(by_plan.values())  # seats of no known plan
        rows += [_seat_row(base, params, plan, months) for plan, months in by_plan.items() if months > 1e-12]
        if credit_era and r["ai_credits"] > 0:
            if team == UNATTRIBUTED:
                billed, included = leftover, None
            else:
                billed, included = float(allocated.at[team, "billed_credits"]), float(allocated.at[team, "pool_share"])
            rows.append(_credit_row(base, params, float(r["ai_credits"]), billed, included))
        if not credit_era and r["premium_requests"] > 0:
            rows.append(_premium_row(base, params, float(r["premium_requests"]), float(r["premium_billable_requests"])))
    frame = pd.DataFrame(rows, columns=list(FOCUS_COLUMNS + CUSTOM_COLUMNS))
    for column in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def focus_export(con: duckdb.DuckDBPyConnection, period: Period, params: OrgParams, as_of: date | None = None) -> pd.DataFrame:
    """The month's FOCUS rows from the warehouse; a month in progress is charged up to the last day with data."""
    last = cost.last_data_day(con)
    if last is None or last < period.start:
        raise UserError(f"no usage data for {period.label}" + (f": the warehouse ends on {last}" if last else ""))
    charge_end = min(period.end, as_of or last, last)
    quantities = bill.split_team_quantities(con, period, params, until=charge_end)
    org = cost.org_month_quantities(con, period, until=charge_end)
    small = {t for t, n in con.execute("""SELECT team_slug, count(DISTINCT user_id) FROM int_team_member_day
                                          WHERE day BETWEEN ? AND ? GROUP BY 1""", [period.start, charge_end]).fetchall()
             if n < params.privacy.k_anonymity}
    return focus_rows(quantities, org, params, period, charge_end, small)


def validate_focus(frame: pd.DataFrame, mandatory: tuple[str, ...] = MANDATORY_COLUMNS,
                   known: tuple[str, ...] = FOCUS_COLUMNS) -> list[str]:
    """Problems against the FOCUS rules this export claims (1.2 unless given another version's mandatory and
    known columns, as `focus_1_3` does): [] when it conforms.

    Checks: every mandatory column present and (unless allowed) never null; allowed values; custom columns
    prefixed x_ and after the FOCUS columns; cost = unit price x PricingQuantity; ConsumedQuantity/Unit null on
    Purchase rows and present on Usage rows; PricingCurrencyEffectiveCost present wherever PricingCurrency is.
    """
    problems = []
    missing = [c for c in mandatory if c not in frame.columns]
    problems += [f"mandatory column {c} is missing" for c in missing]
    for c in mandatory:
        if c in frame.columns and c not in MANDATORY_NULLABLE and frame[c].isna().any():
            problems.append(f"mandatory column {c} has {int(frame[c].isna().sum())} null values")
    for c, allowed in ALLOWED_VALUES.items():
        if c in frame.columns:
            bad = sorted(set(frame[c].dropna()) - set(allowed))
            if bad:
                problems.append(f"{c} has values {bad} outside the allowed values {list(allowed)}")
    if "ChargeFrequency" in frame.columns and ((frame["ChargeFrequency"] == "Usage-Based")
                                                & (frame["ChargeCategory"] == "Purchase")).any():
        problems.append("ChargeFrequency is Usage-Based on a Purchase row")
    known = set(known)
    custom = [c for c in frame.columns if c not in known]
    problems += [f"custom column {c} is not prefixed x_" for c in custom if not c.startswith("x_")]
    positions = {c: i for i, c in enumerate(frame.columns)}
    if custom and any(positions[c] < max(positions[f] for f in frame.columns if f in known) for c in custom):
        problems.append("custom columns must come after the FOCUS columns")
    for cost_col, price_col in (("ListCost", "ListUnitPrice"), ("ContractedCost", "ContractedUnitPrice")):
        if {cost_col, price_col, "PricingQuantity"} <= set(frame.columns):
            f = frame.dropna(subset=[price_col, "PricingQuantity"])
            off = (f[cost_col] - f[price_col] * f["PricingQuantity"]).abs() > 1e-6 * (1 + f[cost_col].abs())
            if off.any():
                problems.append(f"{cost_col} differs from {price_col} x PricingQuantity on {int(off.sum())} rows")
    if {"ConsumedQuantity", "ChargeCategory"} <= set(frame.columns):
        if frame.loc[frame["ChargeCategory"] != "Usage", "ConsumedQuantity"].notna().any():
            problems.append("ConsumedQuantity must be null when ChargeCategory is not Usage")
        if frame.loc[frame["ChargeCategory"] == "Usage", ["ConsumedQuantity", "ConsumedUnit"]].isna().any().any():
            problems.append("ConsumedQuantity and ConsumedUnit must be set on Usage rows")
    if {"PricingQuantity", "PricingUnit"} <= set(frame.columns):
        if (frame["PricingQuantity"].isna() != frame["PricingUnit"].isna()).any():
            problems.append("PricingUnit must be null exactly when PricingQuantity is")
    if "PricingCurrency" in frame.columns and frame.loc[frame["PricingCurrency"].notna(), "PricingCurrencyEffectiveCost"].isna().any():
        problems.append("PricingCurrencyEffectiveCost must be set where PricingCurrency is")
    return problems


def write_focus(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write the rows as CSV (ISO 8601 UTC date-times) or Parquet, by the file's extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UserError(f"--out {path}: write a .csv or a .parquet file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        out = frame.copy()
        for c in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.to_csv(path, index=False)
    else:
        con = duckdb.connect()
        try:
            # a column with no value (ChargeClass: no corrections) is still a string column, not Parquet's NULL type
            empty = [c for c in frame.columns if frame[c].dtype == object and frame[c].isna().all()]
            con.register("focus_rows", frame.astype({c: "string" for c in empty}))
            con.execute(f"COPY focus_rows TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
        finally:
            con.close()
    return path
