"""FOCUS 1.2 export: every mandatory column filled, allowed values only, rows that add up to the bill."""
from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import pytest

from copilot_finops.period import parse_period
from copilot_finops import cost, focus, warehouse
from copilot_finops.cli import main
from copilot_finops.params import load_params

from test_cost import PARAMS_DIR, org_params

OCT = parse_period("2026-10")
MAY = parse_period("2026-05")


def test_constants_follow_focus_1_2():
    assert focus.FOCUS_VERSION == "1.2"
    assert len(set(focus.MANDATORY_COLUMNS)) == len(focus.MANDATORY_COLUMNS) == 21
    # 1.3 renamed ProviderName / PublisherName to ServiceProviderName / HostProviderName: not in a 1.2 dataset
    assert {"ProviderName", "PublisherName", "InvoiceIssuerName"} <= set(focus.MANDATORY_COLUMNS)
    assert not {"ServiceProviderName", "HostProviderName"} & set(focus.FOCUS_COLUMNS)
    assert all(c.startswith("x_") for c in focus.CUSTOM_COLUMNS)


def test_every_mandatory_column_is_filled_with_allowed_values(tiny):
    rows = focus.focus_export(tiny, OCT, org_params(privacy={"k_anonymity": 2}))
    assert focus.validate_focus(rows) == []
    assert list(rows.columns[:len(focus.FOCUS_COLUMNS)]) == list(focus.FOCUS_COLUMNS)
    for column in focus.MANDATORY_COLUMNS:
        if column != "ChargeClass":  # FOCUS: null unless the row is a correction
            assert rows[column].notna().all(), column
    assert rows["ChargeClass"].isna().all()
    for column, allowed in focus.ALLOWED_VALUES.items():
        assert set(rows[column].dropna()) <= set(allowed)
    assert set(rows["ChargeCategory"]) == {"Purchase", "Usage"}
    assert (rows.loc[rows["ChargeCategory"] == "Purchase", "ChargeFrequency"] == "Recurring").all()
    assert rows["BillingPeriodStart"].iloc[0] == pd.Timestamp("2026-10-01", tz="UTC")
    assert rows["BillingPeriodEnd"].iloc[0] == pd.Timestamp("2026-11-01", tz="UTC")  # exclusive end


def test_rows_add_up_to_the_bill_with_two_team_users_split(tiny):
    prm = org_params(privacy={"k_anonymity": 2}, prices={"included_credits_per_seat": {"business": 50, "enterprise": 100}})
    rows = focus.focus_export(tiny, OCT, prm)
    org = cost.org_costs(tiny, OCT, prm)
    assert rows["BilledCost"].sum() == pytest.approx(org["total_cost"])
    seats = rows[rows["ChargeCategory"] == "Purchase"].set_index("x_Team")
    # u1 is on alpha and beta: half of the seat each; u3's seat after leaving is unattributed
    assert seats.loc["alpha", "PricingQuantity"] == pytest.approx((15.5 + 21 + 20) / 31)
    assert seats.loc["beta", "PricingQuantity"] == pytest.approx((15.5 + 31) / 31)
    assert seats.loc["(unattributed)", "PricingQuantity"] == pytest.approx(11 / 31)
    credits = rows[rows["ChargeCategory"] == "Usage"]
    assert credits["ConsumedQuantity"].sum() == pytest.approx(240.0)
    assert (credits["PricingCurrency"] == focus.CREDIT_CURRENCY).all()
    assert (credits["PricingCurrencyEffectiveCost"] * prm.prices.ai_credit).tolist() == pytest.approx(credits["EffectiveCost"].tolist())
    assert credits["BilledCost"].sum() == pytest.approx(org["ai_credit_cost"])
    assert (credits["ListCost"] >= credits["BilledCost"]).all()  # the included pool covers part of the list price


def test_teams_under_k_are_folded_into_the_unattributed_rows(tiny):
    rows = focus.focus_export(tiny, OCT, org_params())  # k = 5: alpha (3) and beta (2) are both small
    assert set(rows["x_Team"]) == {"(unattributed)"}
    assert rows["BilledCost"].sum() == pytest.approx(cost.org_costs(tiny, OCT, org_params())["total_cost"])


def test_premium_request_months_export_requests_beyond_the_allowance(tiny):
    rows = focus.focus_export(tiny, MAY, org_params(privacy={"k_anonymity": 2}))
    assert focus.validate_focus(rows) == []
    usage_rows = rows[rows["ChargeCategory"] == "Usage"]
    assert set(usage_rows["PricingUnit"]) == {"Requests"}
    assert usage_rows["BilledCost"].sum() == pytest.approx(200 * 0.04)  # u1's 500 requests beyond 300
    assert usage_rows["ListCost"].sum() == pytest.approx(600 * 0.04)


@pytest.mark.parametrize("damage, problem", [
    (lambda f: f.drop(columns=["BilledCost"]), "mandatory column BilledCost is missing"),
    (lambda f: f.assign(ServiceName=None), "ServiceName has"),
    (lambda f: f.assign(ChargeCategory="Subscription"), "ChargeCategory has values ['Subscription']"),
    (lambda f: f.assign(team="x"), "custom column team is not prefixed x_"),
    (lambda f: f.assign(ListCost=f["ListCost"] + 1), "ListCost differs from ListUnitPrice x PricingQuantity"),
    (lambda f: f.assign(ConsumedQuantity=1.0), "ConsumedQuantity must be null when ChargeCategory is not Usage"),
    (lambda f: f[["x_Team"] + [c for c in f.columns if c != "x_Team"]], "custom columns must come after"),
])
def test_the_validator_catches_what_focus_forbids(tiny, damage, problem):
    rows = focus.focus_export(tiny, OCT, org_params(privacy={"k_anonymity": 2}))
    assert any(problem in p for p in focus.validate_focus(damage(rows))), focus.validate_focus(damage(rows))


def test_csv_and_parquet_hold_the_same_rows(tiny, tmp_path):
    rows = focus.focus_export(tiny, OCT, org_params(privacy={"k_anonymity": 2}))
    csv = focus.write_focus(rows, tmp_path / "f.csv")
    parquet = focus.write_focus(rows, tmp_path / "f.parquet")
    from_csv = pd.read_csv(csv)
    from_parquet = duckdb.sql(f"SELECT * FROM '{parquet}'").df()
    assert list(from_csv.columns) == list(from_parquet.columns) == list(rows.columns)
    assert from_csv["ChargePeriodStart"].iloc[0] == "2026-10-01T00:00:00Z"  # ISO 8601, UTC
    assert from_csv["BilledCost"].sum() == pytest.approx(from_parquet["BilledCost"].sum())
    assert focus.validate_focus(from_parquet) == []


def test_export_command_on_the_demo_org(small_demo, tmp_path, capsys):
    out = tmp_path / "focus.parquet"
    args = ["export", "focus", "--period", "2026-10", "--out", str(out), "--warehouse", str(small_demo.warehouse),
            "--params", str(PARAMS_DIR), "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = duckdb.sql(f"SELECT * FROM '{out}'").df()
    assert doc["rows"] == len(rows) and doc["focus_version"] == "1.2"
    assert focus.validate_focus(rows) == []
    prm = load_params(PARAMS_DIR)
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        org = cost.org_costs(con, OCT, prm)
    finally:
        con.close()
    assert rows["BilledCost"].sum() == pytest.approx(org["total_cost"])
    assert "secrets-scanning" not in set(rows["x_Team"])  # four members: under k, folded into (unattributed)
    assert set(rows["x_Segment"]) - {""} <= set(prm.segments)
    assert main(["export", "focus", "--period", "2026-10", "--out", str(tmp_path / "f.xlsx"),
                 "--warehouse", str(small_demo.warehouse)]) == 2
    assert ".csv or a .parquet" in capsys.readouterr().err


def test_a_month_in_progress_is_charged_to_the_as_of_day(tiny):
    rows = focus.focus_export(tiny, OCT, org_params(privacy={"k_anonymity": 2}), as_of=date(2026, 10, 10))
    assert rows["ChargePeriodEnd"].iloc[0] == pd.Timestamp("2026-10-11", tz="UTC")
    assert rows.loc[rows["ChargeCategory"] == "Usage", "ConsumedQuantity"].sum() == pytest.approx(120.0)  # u1 100, u4 20
