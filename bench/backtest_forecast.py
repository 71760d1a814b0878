"""Backtest of the guardrails' month-end forecast: forecasts made on day 10 of each month against the month's end.

    python bench/backtest_forecast.py                      # the demo org and a longer generated one
    python bench/backtest_forecast.py --warehouse W.duckdb  # an existing warehouse (e.g. your own org)

For every complete month with at least 28 days of history before day 10, and every team, it runs
`evaluate_guardrails` as of day 10 and as of the month's last day, once with credit budgets and once with money
budgets (with GitHub's pool, and with a pool small enough to run out), and compares the day-10 forecast with
the month-end burn. It prints the median absolute percentage
error (MdAPE, the target is under 10 %), the mean error (bias) and how often the month-end burn fell inside the
80 % interval. Orgs are generated under --work (cached). Run by hand; not part of CI.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from copilot_finops.period import Period, parse_period
from copilot_finops import budget, warehouse
from copilot_finops.demo import generate_org
from copilot_finops.ingest import ingest_raw
from copilot_finops.params import Budget, Budgets, load_params

ROOT = Path(__file__).resolve().parents[1]
ORGS = {  # name -> generator arguments
    "demo org (120 users, 120 days to 2026-10-31)": {"seed": 7, "users": 120, "days": 120, "end": date(2026, 10, 31)},
    "long org (120 users, 365 days to 2027-06-30)": {"seed": 11, "users": 120, "days": 365, "end": date(2027, 6, 30)},
}
FORECAST_DAY = 10
MIN_HISTORY_DAYS = 28


def build(work: Path, name: str, args: dict) -> Path:
    folder = work / f"{args['seed']}-{args['users']}-{args['days']}-{args['end']}"
    wh = folder / "warehouse.duckdb"
    if not wh.exists():
        print(f"generating {name} ...", file=sys.stderr)
        generate_org(folder / "raw", **args)
        ingest_raw(folder / "raw", wh)
    return wh


def months_to_test(con) -> list[Period]:
    first, last = con.execute("SELECT min(day), max(day) FROM user_day").fetchone()
    periods, p = [], parse_period(first.strftime("%Y-%m"))
    while p.end <= last:
        as_of = p.start + timedelta(days=FORECAST_DAY - 1)
        if p.start >= first and (as_of - first).days >= MIN_HISTORY_DAYS:
            periods.append(p)
        p = parse_period((p.end + timedelta(days=1)).strftime("%Y-%m"))
    return periods


def backtest(wh: Path, params_dir: Path) -> pd.DataFrame:
    base = load_params(params_dir)
    money = Budgets(default=Budget(monthly_usd=1.0))
    # with GitHub's pool the demo orgs never run out of included credits, so money is seats alone; a pool of 1,000
    # credits per seat runs out mid-month and puts the forecast through the pool allocation
    small_pool = base.prices.model_copy(update={"included_credits_per_seat": {"business": 1000.0, "enterprise": 2000.0}})
    variants = {"credits": base.model_copy(update={"budgets": Budgets(default=Budget(monthly_credits=1.0))}),
                "usd": base.model_copy(update={"budgets": money}),
                "usd, 1,000-credit pool": base.model_copy(update={"budgets": money, "prices": small_pool})}
    # writable once so the views exist, then read-only
    warehouse.connect(wh).close()
    con = warehouse.connect(wh, read_only=True)
    rows = []
    for period in months_to_test(con):
        as_of = period.start + timedelta(days=FORECAST_DAY - 1)
        for unit, prm in variants.items():
            early = budget.evaluate_guardrails(con, period, prm, as_of).rows.set_index("name")
            final = budget.evaluate_guardrails(con, period, prm, period.end).rows.set_index("name")
            for team in early.index.intersection(final.index):
                actual = float(final.at[team, "burn_to_date"])
                e = early.loc[team]
                rows.append({"period": period.label, "team": team, "unit": unit, "actual": actual,
                             "forecast": float(e["forecast"]), "low": float(e["forecast_low"]),
                             "high": float(e["forecast_high"]), "to_date": float(e["burn_to_date"])})
    con.close()
    frame = pd.DataFrame(rows)
    frame = frame[frame["actual"] > 0].copy()
    frame["error"] = (frame["forecast"] - frame["actual"]) / frame["actual"]
    frame["inside"] = (frame["actual"] >= frame["low"] - 1e-9) & (frame["actual"] <= frame["high"] + 1e-9)
    return frame


def summarise(frame: pd.DataFrame) -> dict:
    out = {}
    for unit, f in frame.groupby("unit"):
        out[unit] = {"forecasts": int(len(f)), "months": int(f["period"].nunique()),
                     "mdape": float(np.median(f["error"].abs())), "mape": float(f["error"].abs().mean()),
                     "bias": float(f["error"].mean()), "p90_ape": float(f["error"].abs().quantile(0.9)),
                     "interval_coverage": float(f["inside"].mean())}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", action="append", metavar="FILE", help="backtest this warehouse (repeatable)")
    parser.add_argument("--params", default=str(ROOT / "params"), metavar="DIR")
    parser.add_argument("--work", default="/tmp/copilot-finops-backtest", metavar="DIR", help="cache of generated orgs")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--detail", action="store_true", help="also print every forecast")
    args = parser.parse_args(argv)
    targets = {w: Path(w) for w in args.warehouse} if args.warehouse else {
        name: build(Path(args.work), name, a) for name, a in ORGS.items()}
    report = {}
    for name, wh in targets.items():
        started = time.perf_counter()
        frame = backtest(wh, Path(args.params))
        report[name] = {"summary": summarise(frame), "seconds": round(time.perf_counter() - started, 1)}
        if args.detail and not args.json:
            print(frame.round(3).to_string())
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    for name, r in report.items():
        print(f"\n{name}  ({r['seconds']} s)")
        for unit, s in r["summary"].items():
            print(f"  {unit:22s} {s['forecasts']:4d} forecasts over {s['months']:2d} months: MdAPE {s['mdape']:.1%}, "
                  f"MAPE {s['mape']:.1%}, bias {s['bias']:+.1%}, 90th pct APE {s['p90_ape']:.1%}, "
                  f"80 % interval held the month end {s['interval_coverage']:.0%} of the time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
