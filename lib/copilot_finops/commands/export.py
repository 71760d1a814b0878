"""`copilot-finops export focus`: a month's Copilot cost in FinOps FOCUS 1.2 (default) or 1.3 columns (CSV or Parquet)."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .common import add_common, add_parser, day, print_json, writable_folder

FORMATS = ("focus",)
FOCUS_VERSIONS = ("1.2", "1.3")  # 1.2 stays the default until 1.3 validators are common


def register(sub) -> None:
    p = add_parser(
        sub, "export", "export a month's cost rows for other FinOps tools (FOCUS 1.2 or 1.3)",
        "Write the month's Copilot cost as FinOps FOCUS rows: one per team and charge (seats; AI credits with\n"
        "the virtual-currency pricing columns; premium requests before credit billing), every mandatory column\n"
        "filled. Rows add up to the org's bill: a user on two teams is split between them, and costs no team\n"
        "explains go to an '(unattributed)' row. FOCUS 1.2 (the default) carries team and role segment as\n"
        "x_Team / x_Segment; --focus-version 1.3 carries the split in the allocation columns (AllocatedMethodId,\n"
        "AllocatedMethodDetails, AllocatedResourceId, AllocatedResourceName, AllocatedTags) and adds\n"
        "ServiceProviderName / HostProviderName. The format follows the file extension: .csv or .parquet.",
        "copilot-finops export focus --period 2026-10 --focus-version 1.3 --out outputs/2026-10/focus.parquet")
    p.add_argument("format", choices=FORMATS, help="export format (focus: FinOps FOCUS)")
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="month to export")
    p.add_argument("--out", required=True, metavar="FILE", help="file to write, .csv or .parquet")
    p.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="charge a month in progress up to this day")
    p.add_argument("--focus-version", choices=FOCUS_VERSIONS, default="1.2",
                   help="FOCUS version of the columns (default 1.2)")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import focus, focus_1_3, warehouse
    from ..period import parse_period
    from ..params import load_params

    version = {"1.2": (focus.focus_export, focus.validate_focus, lambda rows: sorted(set(rows["x_Team"]))),
               "1.3": (focus_1_3.focus_export, focus_1_3.validate_focus, focus_1_3.teams)}
    export, validate, teams = version[args.focus_version]
    period = parse_period(args.period)
    params = load_params(args.params)
    if not str(args.out).lower().endswith((".csv", ".parquet")) or Path(args.out).is_dir():
        raise UserError(f"--out {args.out}: write a .csv or a .parquet file")
    writable_folder(Path(args.out).parent, "--out", "the export")
    con = warehouse.connect(args.warehouse, read_only=True)
    try:
        rows = export(con, period, params, args.as_of)
    finally:
        con.close()
    problems = validate(rows)
    if problems:  # a bug, not a user error: refuse to write a file FOCUS tools would misread
        raise UserError(f"the export does not conform to FOCUS {args.focus_version}: " + "; ".join(problems))
    path = focus.write_focus(rows, args.out)
    doc = {"out": str(path), "focus_version": args.focus_version, "period": period.label, "rows": int(len(rows)),
           "billed_cost": round(float(rows["BilledCost"].sum()), 2), "list_cost": round(float(rows["ListCost"].sum()), 2),
           "currency": params.currency, "teams": teams(rows)}
    if args.json:
        print_json(doc)
    else:
        print(f"wrote {doc['rows']} FOCUS {args.focus_version} rows for {period.label} to {path}: billed "
              f"{doc['billed_cost']:,.2f} {doc['currency']} (list {doc['list_cost']:,.2f})")
    return 0
