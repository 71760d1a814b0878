"""FOCUS 1.3 export: every mandatory 1.3 column present and typed as the spec says, the team split in the allocation
columns, and BilledCost adding up to the month's bill."""
from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from copilot_finops import cost, focus, focus_1_3, warehouse
from copilot_finops.cli import main
from copilot_finops.params import load_params
from copilot_finops.period import parse_period

from test_cost import PARAMS_DIR, org_params

OCT = parse_period("2026-10")
MAY = parse_period("2026-05")

# The FOCUS 1.3 Cost and Usage dataset, column by column: (feature level, data type). Source: the FinOps Open Cost
# and Usage Specification, FOCUS_Spec repository (github.com/FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec),
# specification/datasets/cost_and_usage/columns/*.md, each column's "Content Constraints" table (Feature level,
# Data type); columns.mdpp lists them. ProviderName and PublisherName are deprecated in 1.3 but still Mandatory.
# Written out here, not read from the library, so the export is checked against the spec and not against itself.
FOCUS_1_3_COLUMNS = {
    "AllocatedMethodDetails": ("Recommended", "JSON"), "AllocatedMethodId": ("Conditional", "String"),
    "AllocatedResourceId": ("Conditional", "String"), "AllocatedResourceName": ("Conditional", "String"),
    "AllocatedTags": ("Conditional", "JSON"), "AvailabilityZone": ("Recommended", "String"),
    "BilledCost": ("Mandatory", "Decimal"), "BillingAccountId": ("Mandatory", "String"),
    "BillingAccountName": ("Mandatory", "String"), "BillingAccountType": ("Conditional", "String"),
    "BillingCurrency": ("Mandatory", "String"), "BillingPeriodEnd": ("Mandatory", "DateTime"),
    "BillingPeriodStart": ("Mandatory", "DateTime"), "CapacityReservationId": ("Conditional", "String"),
    "CapacityReservationStatus": ("Conditional", "String"), "ChargeCategory": ("Mandatory", "String"),
    "ChargeClass": ("Mandatory", "String"), "ChargeDescription": ("Mandatory", "String"),
    "ChargeFrequency": ("Recommended", "String"), "ChargePeriodEnd": ("Mandatory", "DateTime"),
    "ChargePeriodStart": ("Mandatory", "DateTime"), "CommitmentDiscountCategory": ("Conditional", "String"),
    "CommitmentDiscountId": ("Conditional", "String"), "CommitmentDiscountName": ("Conditional", "String"),
    "CommitmentDiscountQuantity": ("Conditional", "Decimal"), "CommitmentDiscountStatus": ("Conditional", "String"),
    "CommitmentDiscountType": ("Conditional", "String"), "CommitmentDiscountUnit": ("Conditional", "String"),
    "ConsumedQuantity": ("Conditional", "Decimal"), "ConsumedUnit": ("Conditional", "String"),
    "ContractApplied": ("Conditional", "JSON"), "ContractedCost": ("Mandatory", "Decimal"),
    "ContractedUnitPrice": ("Conditional", "Decimal"), "EffectiveCost": ("Mandatory", "Decimal"),
    "HostProviderName": ("Mandatory", "String"), "InvoiceId": ("Recommended", "String"),
    "InvoiceIssuerName": ("Mandatory", "String"), "ListCost": ("Mandatory", "Decimal"),
    "ListUnitPrice": ("Conditional", "Decimal"), "PricingCategory": ("Conditional", "String"),
    "PricingCurrency": ("Conditional", "String"), "PricingCurrencyContractedUnitPrice": ("Conditional", "Decimal"),
    "PricingCurrencyEffectiveCost": ("Conditional", "Decimal"),
    "PricingCurrencyListUnitPrice": ("Conditional", "Decimal"), "PricingQuantity": ("Mandatory", "Decimal"),
    "PricingUnit": ("Mandatory", "String"), "ProviderName": ("Mandatory", "String"),
    "PublisherName": ("Mandatory", "String"), "RegionId": ("Conditional", "String"),
    "RegionName": ("Conditional", "String"), "ResourceId": ("Conditional", "String"),
    "ResourceName": ("Conditional", "String"), "ResourceType": ("Conditional", "String"),
    "ServiceCategory": ("Mandatory", "String"), "ServiceName": ("Mandatory", "String"),
    "ServiceProviderName": ("Mandatory", "String"), "ServiceSubcategory": ("Recommended", "String"),
    "SkuId": ("Conditional", "String"), "SkuMeter": ("Conditional", "String"),
    "SkuPriceDetails": ("Conditional", "JSON"), "SkuPriceId": ("Conditional", "String"),
    "SubAccountId": ("Conditional", "String"), "SubAccountName": ("Conditional", "String"),
    "SubAccountType": ("Conditional", "String"), "Tags": ("Conditional", "JSON"),
}
MANDATORY = sorted(c for c, (level, _) in FOCUS_1_3_COLUMNS.items() if level == "Mandatory")
NULLABLE_MANDATORY = {"ChargeClass"}  # null unless the row corrects an earlier one


def type_problems(frame: pd.DataFrame) -> list[str]:
    """Columns whose values do not have their FOCUS 1.3 data type (nulls aside)."""
    problems = []
    for column in frame.columns:
        values = frame[column].dropna()
        kind = FOCUS_1_3_COLUMNS[column][1]
        if kind == "Decimal" and not pd.api.types.is_numeric_dtype(frame[column]):
            problems.append(f"{column}: {frame[column].dtype}, not a decimal")
        elif kind == "DateTime" and not (isinstance(frame[column].dtype, pd.DatetimeTZDtype)
                                         and str(frame[column].dt.tz) == "UTC"):
            problems.append(f"{column}: {frame[column].dtype}, not a UTC date-time")
        elif kind == "String" and not all(isinstance(v, str) and v for v in values):
            problems.append(f"{column}: values that are not non-empty strings")
        elif kind == "JSON" and not all(isinstance(v, str) and isinstance(json.loads(v), dict) for v in values):
            problems.append(f"{column}: values that are not JSON objects")
    return problems


def export(con, period=OCT, **params):
    return focus_1_3.focus_export(con, period, org_params(**{"privacy": {"k_anonymity": 2}, **params}))


def test_every_column_is_a_focus_1_3_column_with_its_type_and_every_mandatory_one_is_filled(tiny):
    rows = export(tiny)
    assert sorted(set(rows.columns) - set(FOCUS_1_3_COLUMNS)) == []  # no x_ column left: the split is in Allocated*
    assert type_problems(rows) == []
    for column in MANDATORY:
        assert column in rows.columns, column
        if column not in NULLABLE_MANDATORY:
            assert rows[column].notna().all(), column
    assert (rows["ServiceProviderName"] == "GitHub").all() and (rows["HostProviderName"] == "GitHub").all()
    assert (rows["ProviderName"] == rows["ServiceProviderName"]).all()  # deprecated, kept for 1.2 readers
    assert focus_1_3.validate_focus(rows) == []


def test_the_same_charges_and_costs_as_1_2_with_the_team_split_as_allocation(tiny):
    prm = org_params(privacy={"k_anonymity": 2}, prices={"included_credits_per_seat": {"business": 50, "enterprise": 100}})
    v12 = focus.focus_export(tiny, OCT, prm)
    v13 = focus_1_3.focus_export(tiny, OCT, prm)
    assert v13["BilledCost"].sum() == pytest.approx(cost.org_costs(tiny, OCT, prm)["total_cost"])  # the month's bill
    for column in ("BilledCost", "ListCost", "EffectiveCost", "PricingQuantity", "ChargeCategory", "SkuPriceId"):
        assert v13[column].tolist() == v12[column].tolist()
    attributed = v12["x_Team"] != focus.UNATTRIBUTED
    assert v13.loc[attributed, "AllocatedResourceName"].tolist() == v12.loc[attributed, "x_Team"].tolist()
    assert (v13.loc[attributed, "AllocatedResourceId"] == prm.org + "/" + v12.loc[attributed, "x_Team"]).all()
    assert v13.loc[~attributed, ["AllocatedResourceId", "AllocatedResourceName", "AllocatedTags"]].isna().all().all()
    segments = [json.loads(t)["copilot-finops/segment"] for t in v13.loc[attributed, "AllocatedTags"]]
    assert segments == v12.loc[attributed, "x_Segment"].tolist()
    # seats: u1 is on alpha and beta (half a seat each); u3's seat after leaving alpha is unattributed (test_focus)
    seats = v13[v13["ChargeCategory"] == "Purchase"].set_index(v12.loc[v12["ChargeCategory"] == "Purchase", "x_Team"])
    ratio = {team: json.loads(d)["Elements"][0]["AllocatedRatio"] for team, d in seats["AllocatedMethodDetails"].items()}
    org_seat_days = 15.5 + 21 + 20 + 15.5 + 31 + 11
    assert ratio == pytest.approx({"alpha": (15.5 + 21 + 20) / org_seat_days, "beta": (15.5 + 31) / org_seat_days,
                                   "(unattributed)": 11 / org_seat_days})
    assert set(seats["AllocatedMethodId"]) == {"copilot-finops/seat-member-days"}
    credits = v13[v13["ChargeCategory"] == "Usage"]
    assert set(credits["AllocatedMethodId"]) == {"copilot-finops/ai-credits-seat-share"}
    assert (credits["PricingCurrency"] == "AI Credits").all()  # AI credits keep their virtual currency
    assert (credits["PricingCurrencyEffectiveCost"] * prm.prices.ai_credit).tolist() == pytest.approx(
        credits["EffectiveCost"].tolist())
    details = [json.loads(d) for d in credits["AllocatedMethodDetails"]]
    assert sum(d["Elements"][0]["AllocatedRatio"] for d in details) == pytest.approx(1.0)
    assert [d["Elements"][0]["UsageQuantity"] for d in details] == pytest.approx(credits["ConsumedQuantity"].tolist())


def test_premium_request_months_and_teams_under_k_carry_over(tiny):
    may = export(tiny, MAY)
    assert focus_1_3.validate_focus(may) == [] and type_problems(may) == []
    usage = may[may["ChargeCategory"] == "Usage"]
    assert set(usage["AllocatedMethodId"]) == {"copilot-finops/premium-requests-beyond-allowance"}
    assert usage["BilledCost"].sum() == pytest.approx(200 * 0.04)
    small = focus_1_3.focus_export(tiny, OCT, org_params())  # k = 5: every team is small, all unallocated
    assert small["AllocatedResourceId"].isna().all() and focus_1_3.teams(small) == ["(unattributed)"]
    assert focus_1_3.validate_focus(small) == []


@pytest.mark.parametrize("damage, problem", [
    (lambda f: f.drop(columns=["ServiceProviderName"]), "mandatory column ServiceProviderName is missing"),
    (lambda f: f.assign(HostProviderName=None), "mandatory column HostProviderName has"),
    (lambda f: f.assign(x_Team="alpha"), None),  # an x_ column after the FOCUS ones is allowed
    (lambda f: f.assign(Team="alpha"), "custom column Team is not prefixed x_"),
    (lambda f: f.assign(AllocatedMethodId=None), "AllocatedMethodId must be set"),
    (lambda f: f.assign(AllocatedResourceName="alpha"), "AllocatedResourceName must be null exactly when"),
    (lambda f: f.assign(AllocatedTags="not json"), "AllocatedTags on row 0 is not a JSON object"),
    (lambda f: f.assign(AllocatedMethodDetails='{"Elements": [{"AllocatedRatio": 0.5}]}'), "must add up to 1"),
    (lambda f: f.assign(AllocatedMethodDetails='{"Elements": []}'), "needs Elements with an AllocatedRatio"),
])
def test_the_validator_catches_what_focus_1_3_forbids(tiny, damage, problem):
    problems = focus_1_3.validate_focus(damage(export(tiny)))
    assert (problems == []) if problem is None else any(problem in p for p in problems), problems


def test_csv_and_parquet_keep_the_types(tiny, tmp_path):
    rows = export(tiny)
    csv, parquet = focus.write_focus(rows, tmp_path / "f.csv"), focus.write_focus(rows, tmp_path / "f.parquet")
    types = dict(duckdb.sql(f"DESCRIBE SELECT * FROM '{parquet}'").fetchall()[i][:2] for i in range(len(rows.columns)))
    for column in rows.columns:
        kind = FOCUS_1_3_COLUMNS[column][1]
        expected = {"Decimal": "DOUBLE", "DateTime": "TIMESTAMP WITH TIME ZONE", "String": "VARCHAR", "JSON": "VARCHAR"}
        assert types[column] == expected[kind], column
    from_csv = pd.read_csv(csv)
    assert from_csv["BillingPeriodStart"].iloc[0] == "2026-10-01T00:00:00Z"  # ISO 8601, UTC
    assert from_csv["BilledCost"].sum() == pytest.approx(rows["BilledCost"].sum())
    assert focus_1_3.validate_focus(duckdb.sql(f"SELECT * FROM '{parquet}'").df()) == []


def test_export_command_writes_1_3_on_request_and_1_2_by_default(small_demo, tmp_path, capsys):
    base = ["export", "focus", "--period", "2026-10", "--warehouse", str(small_demo.warehouse), "--params",
            str(PARAMS_DIR), "--json"]
    assert main(base + ["--focus-version", "1.3", "--out", str(tmp_path / "f13.parquet")]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = duckdb.sql(f"SELECT * FROM '{tmp_path / 'f13.parquet'}'").df()
    assert doc["focus_version"] == "1.3" and doc["rows"] == len(rows) and focus_1_3.validate_focus(rows) == []
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        bill = cost.org_costs(con, OCT, load_params(PARAMS_DIR))["total_cost"]
    finally:
        con.close()
    assert rows["BilledCost"].sum() == pytest.approx(bill) and doc["billed_cost"] == pytest.approx(bill, abs=0.01)
    assert "secrets-scanning" not in doc["teams"] and "(unattributed)" in doc["teams"]  # four members: under k
    assert main(base + ["--out", str(tmp_path / "f12.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["focus_version"] == "1.2"
    assert "x_Team" in pd.read_csv(tmp_path / "f12.csv").columns
    with pytest.raises(SystemExit) as refused:  # argparse: exit 2 with the allowed versions
        main(base + ["--focus-version", "2.0", "--out", str(tmp_path / "f.csv")])
    assert refused.value.code == 2 and "choose from '1.2', '1.3'" in capsys.readouterr().err
