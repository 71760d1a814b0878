"""`copilot-finops report`: run the report notebooks per team and write outputs/<period>/."""
from __future__ import annotations

import json
import sys

from ..errors import UserError
from ..paths import DEFAULT_NOTEBOOKS, DEFAULT_OUTPUTS
from .common import add_common, add_incident, add_parser, add_period_teams, print_json, workers, writable_folder


def register(sub) -> None:
    p = add_parser(
        sub, "report", "render every team's report notebooks for a month",
        "Run each report notebook once per team with papermill (parameters: team, period, warehouse,\n"
        "params), render self-contained HTML (static SVG charts, code hidden, nothing fetched), and\n"
        "write outputs/<period>/index.html linking every report with each team's headline numbers.\n"
        "With --teams, the run adds to the period's index and run.json: the other teams' reports and the org\n"
        "overview already there stay listed. Ends by printing the index and each team's retro page.\n"
        "One failing team does not stop the others; the exit code is 1 if any failed. Reports are\n"
        "aggregate and pseudonymous; identities only with --detail --incident ID --reason TEXT.",
        "copilot-finops report --period 2026-10 --teams platform-sre,appsec --out outputs/")
    add_period_teams(p)
    p.add_argument("--out", default=DEFAULT_OUTPUTS, metavar="DIR", help=f"output folder (default {DEFAULT_OUTPUTS}/)")
    p.add_argument("--notebooks", default=DEFAULT_NOTEBOOKS, metavar="DIR", help=f"report notebooks folder (default {DEFAULT_NOTEBOOKS}/)")
    p.add_argument("--executor", default="local", help="where notebooks run: local (process pool, default) or dask")
    p.add_argument("--workers", type=workers, help="parallel notebooks (default: number of cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler address (with --executor dask)")
    p.add_argument("--retro", action="store_true",
                   help="also write <team>/retro.html: the team's reports on one page with a table of contents")
    add_incident(p, "show identities, written under <out>/restricted/<incident>/ with every page marked restricted")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..privacy import incident_access
    from ..reports import make_reports

    access = None
    if args.detail:
        access = incident_access(args.incident, args.reason)
    elif args.incident or args.reason:
        raise UserError("--incident and --reason go with --detail (incident mode); without --detail reports are "
                        "aggregate and pseudonymous and need neither")
    writable_folder(args.out, "--out", "the reports")
    index, results = make_reports(args.warehouse, args.params, args.period, args.out, args.teams, args.notebooks,
                                  args.executor, args.workers, progress=not args.json, retro=args.retro, access=access,
                                  **({"scheduler": args.scheduler} if args.scheduler else {}))
    failed = [r for r in results if not r.ok]
    retros = json.loads((index.parent / "run.json").read_text()).get("retros", {})  # every team's, as indexed
    if args.json:
        print_json({"index": str(index), "retros": retros, "ok": len(results) - len(failed), "failed": len(failed),
                    "results": [{"team": r.task.team, "notebook": r.task.name, "ok": r.ok, "seconds": round(r.seconds, 2),
                                 "html": r.html, "error": r.error} for r in results]})
        return 1 if failed else 0
    for r in failed:
        print(f"  FAILED {r.task.team}/{r.task.name}: {r.error}", file=sys.stderr)
    print(f"{len(results) - len(failed)} of {len(results)} reports rendered")
    print(f"index: {index}")
    for team, page in retros.items():
        print(f"retro: {page}  ({team})")
    return 1 if failed else 0
