"""`copilot-finops export focus`: a month's Copilot cost in FinOps FOCUS 1.2 columns (CSV or Parquet)."""
from __future__ import annotations


from ..errors import UserError
from .common import add_common, add_parser, print_json, day

FORMATS = ("focus",)



def register(sub) -> None:
    p = add_parser(
        sub, "export", "export a month's cost rows for other FinOps tools (FOCUS 1.2)",
        "Write the month's Copilot cost as FinOps FOCUS 1.2 rows: one per team and charge (seats; AI credits with\n"
        "the virtual-currency pricing columns; premium requests before credit billing), every mandatory column\n"
        "filled, team and role segment as x_Team / x_Segment. Rows add up to the org's bill: a user on two teams\n"
        "is split between them, and costs no team explains go to an '(unattributed)' row. The format follows the\n"
        "file extension: .csv or .parquet.",
        "copilot-finops export focus --period 2026-10 --out outputs/2026-10/focus.parquet")
    p.add_argument("format", choices=FORMATS, help="export format (focus: FinOps FOCUS 1.2)")
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="month to export")
    p.add_argument("--out", required=True, metavar="FILE", help="file to write, .csv or .parquet")
    p.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="charge a month in progress up to this day")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import focus, warehouse
    from ..period import parse_period
    from ..params import load_params

    period = parse_period(args.period)
    params = load_params(args.params)
    if not str(args.out).lower().endswith((".csv", ".parquet")):
        raise UserError(f"--out {args.out}: write a .csv or a .parquet file")
    con = warehouse.connect(args.warehouse, read_only=True)
    try:
        rows = focus.focus_export(con, period, params, args.as_of)
    finally:
        con.close()
    problems = focus.validate_focus(rows)
    if problems:  # a bug, not a user error: refuse to write a file FOCUS tools would misread
        raise UserError("the export does not conform to FOCUS " + focus.FOCUS_VERSION + ": " + "; ".join(problems))
    path = focus.write_focus(rows, args.out)
    doc = {"out": str(path), "focus_version": focus.FOCUS_VERSION, "period": period.label, "rows": int(len(rows)),
           "billed_cost": round(float(rows["BilledCost"].sum()), 2), "list_cost": round(float(rows["ListCost"].sum()), 2),
           "currency": params.currency, "teams": sorted(set(rows["x_Team"]))}
    if args.json:
        print_json(doc)
    else:
        print(f"wrote {doc['rows']} FOCUS {focus.FOCUS_VERSION} rows for {period.label} to {path}: billed "
              f"{doc['billed_cost']:,.2f} {doc['currency']} (list {doc['list_cost']:,.2f})")
    return 0
