"""`copilot-finops delivery`: per team, delivery metrics, their correlation with Copilot usage, and a verdict."""
from __future__ import annotations

from .common import add_common, add_parser, add_period_teams, print_json


def register(sub) -> None:
    p = add_parser(
        sub, "delivery", "pair Copilot usage with delivery (DORA) per team and give a verdict",
        "For each team: delivery metrics of the month (cycle time, DORA lead time for changes, review\n"
        "turnaround, deployments, change failure rate, time to restore; fourkeys definitions, with their\n"
        "DORA tiers), the rank correlation of weekly usage with each metric over up to 26 weeks ending\n"
        "with the month, raw, with both series' trends removed and week to week (lags of 0-2 weeks;\n"
        "p-values from surrogates that keep usage's autocorrelation, Holm's correction across metrics), and\n"
        "a verdict read from the same-week relation, which must hold both detrended and week to week:\n"
        "tighten (heavier-usage weeks with clearly more failures or slower restores), scaling\n"
        "(clearly fewer failures or faster delivery, nothing worse), inconclusive, or insufficient_data\n"
        "(fewer than 8 weeks or 5 developers). Correlation is not causation: every verdict lists its evidence.",
        "copilot-finops delivery --period 2026-10 --teams appsec,payments-api --json")
    add_period_teams(p, "month to report (the window ends with it)")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import gaps, usage, warehouse as warehouse_mod
    from ..delivery import report as delivery_report
    from ..period import parse_period
    from ..params import load_params

    period = parse_period(args.period)
    params = load_params(args.params)
    con = warehouse_mod.connect(args.warehouse, read_only=True)
    try:
        teams = usage.select_teams(con, period, args.teams, args.warehouse)
        document = delivery_report.delivery_report(con, period, params, teams)
    finally:
        con.close()
    if args.json:
        print_json(document)
        return 0
    window = document["window"]
    print(f"Usage against delivery, {period.label} (window: {window['weeks']} weeks from {window['start']} "
          f"to {window['end']})")
    table = delivery_report.summary_rows(document)
    print(table.to_string(index=False, na_rep="n/a"))  # figures are already written by figures.show
    if document["gaps"]:
        print(f"\nincomplete data: {gaps.entries_text(document['gaps'])}")
    print("\nCorrelation is not causation: run with --json for each verdict's evidence and correlations.")
    return 0
