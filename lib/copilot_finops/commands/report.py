"""`copilot-finops report`: run the report notebooks per team and write outputs/<period>/."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UserError
from .common import add_common, add_parser, add_period_teams, print_json

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
        "One failing team does not stop the others; the exit code is 1 if any failed. Reports are\n"
        "aggregate and pseudonymous; identities only with --detail --incident ID --reason TEXT.",
        "copilot-finops report --period 2026-10 --teams platform-sre,appsec --out outputs/")
    add_period_teams(p)
    p.add_argument("--out", default="outputs", metavar="DIR", help="output folder (default outputs/)")
    p.add_argument("--notebooks", default=DEFAULT_NOTEBOOKS, metavar="DIR", help="report notebooks folder (default notebooks/)")
    p.add_argument("--executor", default="local", help="where notebooks run: local (process pool, default) or dask")
    p.add_argument("--workers", type=int, help="parallel notebooks (default: number of cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler address (with --executor dask)")
    p.add_argument("--retro", action="store_true",
                   help="also write <team>/retro.html: the team's reports on one page with a table of contents")
    p.add_argument("--detail", action="store_true",
                   help="incident mode: show identities (needs --incident and --reason; recorded in access_audit, "
                        "output under <out>/restricted/<incident>/, every page marked restricted)")
    p.add_argument("--incident", metavar="ID", help="incident id that identities are needed for (with --detail)")
    p.add_argument("--reason", metavar="TEXT", help="why identities are needed (with --detail); kept in access_audit")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def make_reports(warehouse: str, params: str, period_text: str, out: str, teams_arg: str | None = None,
                 notebooks: str = DEFAULT_NOTEBOOKS, executor: str = "local", workers: int | None = None,
                 progress: bool = True, extra: tuple = (), retro: bool = False, access=None, **executor_options):
    """Plan, run and index the reports; returns (index path, results).

    `retro`: also stitch each team's reports into <team>/retro.html. `access` (privacy.IncidentAccess): incident
    mode; the access is recorded in access_audit before any notebook runs, the notebooks get `detail`,
    `incident` and `restricted`, and the output goes under <out>/restricted/<incident>/.
    """
    from .. import reports, usage, warehouse as warehouse_mod
    from ..params import load_params

    period = usage.parse_period(period_text)
    prm = load_params(params)
    con = warehouse_mod.connect(warehouse, read_only=True)
    try:
        teams = usage.select_teams(con, period, teams_arg, warehouse)
    finally:
        con.close()
    if access is not None:
        out, extra = _record_incident_access(warehouse, access, period.label, out, teams, teams_arg, extra)
    tasks = reports.plan_tasks(teams, period.label, warehouse, params, out, notebooks_dir(notebooks),
                               include_org=not teams_arg, extra=extra)
    results = reports.run_reports(tasks, executor=executor, workers=workers, progress=progress, **executor_options)
    con = warehouse_mod.connect(warehouse, read_only=True)
    try:
        headlines = reports.team_headlines(con, teams, period, prm)
    finally:
        con.close()
    restricted = dict(extra).get("restricted")
    retros = _write_retros(results, period.label, restricted) if retro else None
    index = reports.write_index(period.label, Path(out) / period.label, results, headlines, restricted, retros)
    return index, results


def _record_incident_access(warehouse: str, access, period: str, out: str, teams: list[str], teams_arg, extra: tuple):
    """Write the access_audit row (a brief writable open, before the read-only fan-out); return (out, extra)."""
    from .. import privacy, reports, warehouse as warehouse_mod

    out = str(Path(out) / "restricted" / reports.team_dirname(access.incident_id))
    scope = f"period {period}; teams: {', '.join(teams) if teams_arg else 'all, with the org overview'}; identities"
    con = warehouse_mod.connect(warehouse)
    try:
        privacy.record_access(con, access, scope, str(Path(out) / period))
    finally:
        con.close()
    return out, tuple(extra) + (("detail", True), ("incident", access.incident_id), ("restricted", access.notice))


def _write_retros(results, period: str, restricted: str | None) -> dict[str, str]:
    """<team>/retro.html for every team that has rendered notebooks; returns team -> page path."""
    from .. import reports, retro

    by_team: dict[str, list] = {}
    for r in results:
        if r.task.team != reports.ORG_TEAM:
            by_team.setdefault(r.task.team, []).append(r)
    pages = {}
    for team, rs in by_team.items():
        out_dir = Path(rs[0].task.cwd, rs[0].task.out_dir)
        books = [out_dir / f"{r.task.name}.ipynb" for r in rs]
        pages[team] = str(retro.write_retro(out_dir, team, period, books, restricted))
    return pages


def run(args) -> int:
    from ..privacy import incident_access

    access = None
    if args.detail:
        access = incident_access(args.incident, args.reason)
    elif args.incident or args.reason:
        raise UserError("--incident and --reason go with --detail (incident mode); without --detail reports are "
                        "aggregate and pseudonymous and need neither")
    index, results = make_reports(args.warehouse, args.params, args.period, args.out, args.teams, args.notebooks,
                                  args.executor, args.workers, progress=not args.json, retro=args.retro, access=access,
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
