"""`copilot-finops report`: run the report notebooks per team and write outputs/<period>/."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UserError
from .common import add_common, add_parser, print_json

DEFAULT_NOTEBOOKS = "notebooks"


def notebooks_dir(given: str) -> Path:
    path = Path(given)
    if path.is_dir() or given != DEFAULT_NOTEBOOKS:
        return path
    bundled = Path(__file__).resolve().parents[3] / "notebooks"  # the project checkout's notebooks/
    return bundled if bundled.is_dir() else path


def register(sub) -> None:
    p = add_parser(
        sub, "report", "render every team's report notebooks for a month",
        "Run each report notebook once per team with papermill (parameters: team, period, warehouse,\n"
        "params), render self-contained HTML (static SVG charts, code hidden, nothing fetched), and\n"
        "write outputs/<period>/index.html linking every report with each team's headline numbers.\n"
        "One failing team does not stop the others; the exit code is 1 if any failed.",
        "copilot-finops report --period 2026-10 --teams platform-sre,appsec --out outputs/")
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="month to report")
    p.add_argument("--teams", metavar="A,B", help="only these team slugs (default: every team in the month)")
    p.add_argument("--out", default="outputs", metavar="DIR", help="output folder (default outputs/)")
    p.add_argument("--notebooks", default=DEFAULT_NOTEBOOKS, metavar="DIR", help="report notebooks folder (default notebooks/)")
    p.add_argument("--executor", default="local", help="where notebooks run: local (process pool, default) or dask")
    p.add_argument("--workers", type=int, help="parallel notebooks (default: number of cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler address (with --executor dask)")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def make_reports(warehouse: str, params: str, period_text: str, out: str, teams_arg: str | None = None,
                 notebooks: str = DEFAULT_NOTEBOOKS, executor: str = "local", workers: int | None = None,
                 progress: bool = True, extra: tuple = (), **executor_options):
    """Plan, run and index the reports; returns (ReportRun-like dict, index path, results)."""
    from .. import reports, usage, warehouse as warehouse_mod
    from ..params import load_params

    period = usage.parse_period(period_text)
    prm = load_params(params)
    con = warehouse_mod.connect(warehouse, read_only=True)
    try:
        available = usage.teams_in_warehouse(con, period)
        if not available:
            first, last = usage.data_days(con)
            raise UserError(f"no team has members in {period.label}; the warehouse holds {first} to {last}")
        if teams_arg:
            teams = [t.strip() for t in teams_arg.split(",") if t.strip()]
            unknown = [t for t in teams if t not in available]
            if unknown:
                raise UserError(f"--teams: {', '.join(unknown)} not in the warehouse for {period.label}; "
                                f"teams: {', '.join(available)}")
        else:
            teams = available
    finally:
        con.close()
    tasks = reports.plan_tasks(teams, period.label, warehouse, params, out, notebooks_dir(notebooks),
                               include_org=not teams_arg, extra=extra)
    results = reports.run_reports(tasks, executor=executor, workers=workers, progress=progress, **executor_options)
    con = warehouse_mod.connect(warehouse, read_only=True)
    try:
        headlines = reports.team_headlines(con, teams, period, prm)
    finally:
        con.close()
    restricted = dict(extra).get("restricted")
    index = reports.write_index(period.label, Path(out) / period.label, results, headlines, restricted)
    return index, results


def run(args) -> int:
    index, results = make_reports(args.warehouse, args.params, args.period, args.out, args.teams, args.notebooks,
                                  args.executor, args.workers, progress=not args.json,
                                  **({"scheduler": args.scheduler} if args.scheduler else {}))
    failed = [r for r in results if not r.ok]
    if args.json:
        print_json({"index": str(index), "ok": len(results) - len(failed), "failed": len(failed),
                    "results": [{"team": r.task.team, "notebook": r.task.name, "ok": r.ok, "seconds": round(r.seconds, 2),
                                 "html": r.html, "error": r.error} for r in results]})
    else:
        print(f"{len(results) - len(failed)} of {len(results)} reports rendered; index: {index}")
        for r in failed:
            print(f"  FAILED {r.task.team}/{r.task.name}: {r.error}", file=sys.stderr)
    return 1 if failed else 0
