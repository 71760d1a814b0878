"""Backtest of the guardrails' month-end forecast, with and without gaps in GitHub's usage reports.

    python bench/backtest_forecast.py                        # the demo org, then generated orgs of other seeds and sizes
    python bench/backtest_forecast.py --orgs demo             # the demo org only
    python bench/backtest_forecast.py --warehouse W.duckdb    # an existing warehouse (e.g. your own org)

Every figure comes from `budget.evaluate_guardrails` with a credit budget for every team (for a credit budget the
forecast is the team's AI credits, so the budget's size does not matter), against the burn recorded at the end of
the month. Orgs are generated under --work and cached. What it prints, per org:

1. all months: every complete month with at least 28 days of history before day 10, forecasts made on days 10, 15
   and 20: MAPE, MdAPE, bias and how often the month-end burn fell inside the 80 % interval;
2. October 2026, when the org has it: MAPE at days 10, 15 and 20 over the teams params/org.yaml gives a credit
   budget, and over all teams;
3. October with gaps, each in a copy of the warehouse with rows deleted as an ingest of a raw zone without those
   files would leave it, forecasts made on day D = 10, 15, 20:
   - recent gap: the reports end on day D and the users report (users-1-day) of D-1 and D is missing, so the as-of
     day falls back to D-2 (the issue's case);
   - earlier gap: the users report of D-6 and D-5 is missing (estimated in the burn to date);
   - as zeros: the recent gap counted as days without usage, as before gaps were detected (for contrast);
   - month end: the users report of 19 and 20 October missing from the whole month, the month then closed: how
     often the estimated month end's 80 % interval holds the actual.
Run by hand; not part of CI.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from copilot_finops import budget, gaps, warehouse
from copilot_finops.demo import generate_org
from copilot_finops.ingest import ingest_raw
from copilot_finops.params import Budget, Budgets, load_params
from copilot_finops.period import Period, parse_period

ROOT = Path(__file__).resolve().parents[1]
ORGS = {  # name -> generator arguments
    "demo": {"seed": 7, "users": 120, "days": 120, "end": date(2026, 10, 31)},
    "long": {"seed": 11, "users": 120, "days": 365, "end": date(2027, 6, 30)},
    "large": {"seed": 5, "users": 300, "days": 200, "end": date(2026, 10, 31)},
    "small": {"seed": 19, "users": 50, "days": 240, "end": date(2027, 3, 31)},
}
FORECAST_DAYS = (10, 15, 20)
MIN_HISTORY_DAYS = 28
OCTOBER = parse_period("2026-10")
USERS_TABLES = ("user_day", "user_day_feature", "user_day_model_feature", "user_day_language_feature", "user_day_ide")


def build(work: Path, name: str, args: dict) -> Path:
    folder = work / f"{args['seed']}-{args['users']}-{args['days']}-{args['end']}"
    wh = folder / "warehouse.duckdb"
    if not wh.exists():
        print(f"generating the {name} org ({args['users']} users, {args['days']} days to {args['end']}) ...",
              file=sys.stderr)
        generate_org(folder / "raw", **args)
        ingest_raw(folder / "raw", wh)
    return wh


def months_to_test(con) -> list[Period]:
    first, last = con.execute("SELECT min(day), max(day) FROM user_day").fetchone()
    periods, p = [], parse_period(first.strftime("%Y-%m"))
    while p.end <= last:
        if p.start >= first and (p.start + timedelta(days=FORECAST_DAYS[0] - 1) - first).days >= MIN_HISTORY_DAYS:
            periods.append(p)
        p = parse_period((p.end + timedelta(days=1)).strftime("%Y-%m"))
    return periods


def team_rows(con, period: Period, params, as_of: date | None) -> pd.DataFrame:
    rows = budget.evaluate_guardrails(con, period, params, as_of).rows
    return rows[rows["scope"] == "team"].set_index("name")


def compare(early: pd.DataFrame, actual: pd.Series, **labels) -> list[dict]:
    out = []
    for team in early.index.intersection(actual.index):
        if actual[team] > 0:
            e = early.loc[team]
            out.append({**labels, "team": team, "actual": float(actual[team]), "forecast": float(e["forecast"]),
                        "low": float(e["forecast_low"]), "high": float(e["forecast_high"])})
    return out


def summarise(frame: pd.DataFrame) -> dict:
    if frame.empty:
        return {"forecasts": 0}
    err = (frame["forecast"] - frame["actual"]) / frame["actual"]
    inside = (frame["actual"] >= frame["low"] - 1e-6) & (frame["actual"] <= frame["high"] + 1e-6)
    return {"forecasts": int(len(frame)), "mape": float(err.abs().mean()), "mdape": float(err.abs().median()),
            "bias": float(err.mean()), "inside": int(inside.sum()), "coverage": float(inside.mean())}


# -- gaps: a copy of the warehouse, with rows deleted as an ingest without those raw files would leave it -------
def gap_copy(source: Path, folder: Path, users_missing: list[date], reports_end: date | None = None,
             as_zeros: bool = False) -> Path:
    """A copy of the warehouse whose users report lacks `users_missing` (or, `as_zeros`, reports them without
    usage) and whose daily reports end on `reports_end`."""
    target = folder / f"gap-{len(list(folder.iterdir()))}.duckdb"
    shutil.copy(source, target)
    con = warehouse.connect(target)
    try:
        days = [d.isoformat() for d in users_missing]
        if as_zeros:
            con.execute("UPDATE user_day SET ai_credits_used = 0 WHERE list_contains(?::DATE[], day)", [days])
        else:
            for table in USERS_TABLES:
                con.execute(f"DELETE FROM {table} WHERE list_contains(?::DATE[], day)", [days])
            con.execute("""DELETE FROM ingest_file WHERE kind = 'users-1-day' AND list_contains(?::DATE[],
                           try_cast(regexp_extract(path, '(\\d{4}-\\d{2}-\\d{2})/', 1) AS DATE))""", [days])
        if reports_end is not None:
            for table in USERS_TABLES + ("user_team_day", "org_day"):
                con.execute(f"DELETE FROM {table} WHERE day > ?", [reports_end])
            con.execute("""DELETE FROM ingest_file WHERE try_cast(regexp_extract(path, 'metrics/[^/]+/(\\d{4}-\\d{2}-\\d{2})/', 1)
                           AS DATE) > ?""", [reports_end])
            con.execute("DELETE FROM fetch_manifest WHERE day > ?", [reports_end])
    finally:
        con.close()
    return target


def october_gaps(wh: Path, params, credit_teams: list[str], actual: pd.Series) -> dict:
    """The gap scenarios of October (see the module's docstring): forecasts and the as-of day each one used."""
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="backtest-gaps-") as tmp:
        folder = Path(tmp)
        for d in FORECAST_DAYS:
            day = OCTOBER.start + timedelta(days=d - 1)
            scenarios = {"recent gap": ([day - timedelta(days=1), day], day, False),
                         "earlier gap": ([day - timedelta(days=6), day - timedelta(days=5)], day, False),
                         "as zeros": ([day - timedelta(days=1), day], day, True)}
            for name, (missing, end, zeros) in scenarios.items():
                copy = gap_copy(wh, folder, missing, end, zeros)
                con = warehouse.connect(copy, read_only=True)
                try:
                    rows = team_rows(con, OCTOBER, params, None)
                    as_of = gaps.usage_as_of(con)
                finally:
                    con.close()
                results.setdefault(name, []).extend(compare(rows, actual, day=d, as_of=str(as_of)))
                copy.unlink()
        copy = gap_copy(wh, folder, [date(2026, 10, 19), date(2026, 10, 20)])
        con = warehouse.connect(copy, read_only=True)
        try:
            results["month end, 19-20 Oct missing"] = compare(team_rows(con, OCTOBER, params, None), actual, day=31,
                                                              as_of=str(gaps.usage_as_of(con)))
        finally:
            con.close()
    return {name: pd.DataFrame(rows).assign(credit_budget=lambda f: f["team"].isin(credit_teams))
            for name, rows in results.items()}


def backtest(wh: Path, params_dir: Path, gap_scenarios: bool) -> dict:
    base = load_params(params_dir)
    credits = base.model_copy(update={"budgets": Budgets(default=Budget(monthly_credits=1.0))})
    warehouse.connect(wh).close()  # writable once so the views exist, then read-only
    con = warehouse.connect(wh, read_only=True)
    rows, finals = [], {}
    try:
        for period in months_to_test(con):
            finals[period.label] = team_rows(con, period, credits, period.end)["burn_to_date"]
            for d in FORECAST_DAYS:
                early = team_rows(con, period, credits, period.start + timedelta(days=d - 1))
                rows += compare(early, finals[period.label], period=period.label, day=d)
        teams = list(finals[OCTOBER.label].index) if OCTOBER.label in finals else []
    finally:
        con.close()
    frame = pd.DataFrame(rows)
    credit_teams = [t for t in teams if base.budgets.for_team(t).unit == "credits"]
    report = {"all months": {d: summarise(frame[frame["day"] == d]) for d in FORECAST_DAYS}}
    if teams:
        october = frame[frame["period"] == OCTOBER.label]
        report["October, teams with credit budgets"] = {
            d: summarise(october[(october["day"] == d) & october["team"].isin(credit_teams)]) for d in FORECAST_DAYS}
        report["October, all teams"] = {d: summarise(october[october["day"] == d]) for d in FORECAST_DAYS}
        if gap_scenarios:
            for name, f in october_gaps(wh, credits, credit_teams, finals[OCTOBER.label]).items():
                days = sorted(set(f["day"]))
                report[f"October, {name}, teams with credit budgets"] = {
                    d: summarise(f[(f["day"] == d) & f["credit_budget"]]) for d in days}
                report[f"October, {name}, all teams"] = {d: summarise(f[f["day"] == d]) for d in days}
                report[f"October, {name}, as-of days"] = {d: sorted(set(f.loc[f["day"] == d, "as_of"])) for d in days}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", action="append", metavar="FILE", help="backtest this warehouse (repeatable)")
    parser.add_argument("--orgs", default=",".join(ORGS), help=f"generated orgs to backtest (default {','.join(ORGS)})")
    parser.add_argument("--params", default=str(ROOT / "params"), metavar="DIR")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "copilot-finops-backtest"), metavar="DIR",
                        help="cache of generated orgs")
    parser.add_argument("--no-gaps", action="store_true", help="skip the gap scenarios")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    os.environ["COPILOT_FINOPS_CACHE"] = "0"  # every figure computed by the code as it is now
    if args.warehouse:
        targets = {w: Path(w) for w in args.warehouse}
    else:
        unknown = [o for o in args.orgs.split(",") if o not in ORGS]
        if unknown:
            parser.error(f"--orgs: unknown {', '.join(unknown)}; choose from {', '.join(ORGS)}")
        targets = {name: build(Path(args.work), name, ORGS[name]) for name in args.orgs.split(",")}
    report = {}
    for name, wh in targets.items():
        started = time.perf_counter()
        report[name] = backtest(wh, Path(args.params), not args.no_gaps)
        report[name]["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
        return 0
    for name, r in report.items():
        spec = ORGS.get(name)
        title = f"{name} org ({spec['users']} users, {spec['days']} days to {spec['end']}, seed {spec['seed']})" \
            if spec else name
        print(f"\n{title}  ({r['seconds']} s)")
        for section, by_day in r.items():
            if section == "seconds":
                continue
            if section.endswith("as-of days"):
                print(f"  {section}: " + "; ".join(f"day {d}: {', '.join(v)}" for d, v in by_day.items()))
                continue
            print(f"  {section}")
            for d, s in by_day.items():
                if not s.get("forecasts"):
                    continue
                print(f"    day {d:2d}: {s['forecasts']:3d} forecasts, MAPE {s['mape']:.1%}, MdAPE {s['mdape']:.1%}, "
                      f"bias {s['bias']:+.1%}, 80 % interval held the month end {s['inside']} of {s['forecasts']}"
                      f" ({s['coverage']:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
